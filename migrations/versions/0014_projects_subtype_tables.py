"""projects: school and self-study fields move to their own tables (seed 002's joined-table design)

`projects` kept both types' fields as nullable columns, with CHECKs tying them to
`project_type`: the design seed 002 migrates away from. Each type now has a
table of its own, one row per project (primary key = the project's id, deleted
with it), every field NOT NULL and non-blank. Existing rows are carried over
with their ids, on SQLite and PostgreSQL; the downgrade puts them back.

Revision ID: 0014_projects_subtype_tables
Revises: 0013_platform_mail_outbox
"""
from alembic import op
import sqlalchemy as sa

revision = '0014_projects_subtype_tables'
down_revision = '0013_platform_mail_outbox'
branch_labels = None
depends_on = None

SCHOOL_FILLED = ("(course_name IS NOT NULL AND TRIM(course_name) <> '') AND (course_code IS NOT NULL AND "
                 "TRIM(course_code) <> '') AND (teacher_name IS NOT NULL AND TRIM(teacher_name) <> '')")
SELF_STUDY_FILLED = ("(goal_description IS NOT NULL AND TRIM(goal_description) <> '') AND (study_frequency IS NOT "
                     "NULL AND TRIM(study_frequency) <> '')")
OLD_CHECKS = {
    'check_school_project_fields_required': "project_type <> 'school' OR (" + SCHOOL_FILLED + ")",
    'check_school_project_no_self_study_fields':
        "project_type <> 'school' OR (goal_description IS NULL AND study_frequency IS NULL)",
    'check_self_study_project_fields_required': "project_type <> 'self_study' OR (" + SELF_STUDY_FILLED + ")",
    'check_self_study_project_no_school_fields':
        "project_type <> 'self_study' OR (course_name IS NULL AND course_code IS NULL AND teacher_name IS NULL)",
}
SCHOOL_COLUMNS = ('course_name', 'course_code', 'teacher_name')
SELF_STUDY_COLUMNS = ('goal_description', 'study_frequency')


def upgrade():
    op.create_table(
        'school_projects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('course_name', sa.String(length=255), nullable=False),
        sa.Column('course_code', sa.String(length=50), nullable=False),
        sa.Column('teacher_name', sa.String(length=255), nullable=False),
        sa.CheckConstraint(SCHOOL_FILLED, name='check_school_project_fields_filled'),
        sa.ForeignKeyConstraint(['id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'self_study_projects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('goal_description', sa.Text(), nullable=False),
        sa.Column('study_frequency', sa.String(length=50), nullable=False),
        sa.CheckConstraint(SELF_STUDY_FILLED, name='check_self_study_project_fields_filled'),
        sa.ForeignKeyConstraint(['id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.execute("INSERT INTO school_projects (id, course_name, course_code, teacher_name) "
               "SELECT id, course_name, course_code, teacher_name FROM projects WHERE project_type = 'school'")
    op.execute("INSERT INTO self_study_projects (id, goal_description, study_frequency) "
               "SELECT id, goal_description, study_frequency FROM projects WHERE project_type = 'self_study'")
    with op.batch_alter_table('projects', schema=None) as batch_op:
        for name in OLD_CHECKS:
            batch_op.drop_constraint(name, type_='check')
        for column in SCHOOL_COLUMNS + SELF_STUDY_COLUMNS:
            batch_op.drop_column(column)
        # The All tab (both types, newest first) reads this index in order instead of sorting every project
        # of the owner (bench/projects_subtypes.py: 20-46 ms at 100,000 projects without it).
        batch_op.create_index('idx_project_owner_created', ['organization_id', 'owner_id', 'created_at', 'id'])


def downgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index('idx_project_owner_created')
        batch_op.add_column(sa.Column('course_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('course_code', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('teacher_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('goal_description', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('study_frequency', sa.String(length=50), nullable=True))
    for column in SCHOOL_COLUMNS:
        op.execute(f"UPDATE projects SET {column} = (SELECT s.{column} FROM school_projects s "
                   f"WHERE s.id = projects.id) WHERE project_type = 'school'")
    for column in SELF_STUDY_COLUMNS:
        op.execute(f"UPDATE projects SET {column} = (SELECT s.{column} FROM self_study_projects s "
                   f"WHERE s.id = projects.id) WHERE project_type = 'self_study'")
    with op.batch_alter_table('projects', schema=None) as batch_op:
        for name, condition in OLD_CHECKS.items():
            batch_op.create_check_constraint(name, condition)
    op.drop_table('self_study_projects')
    op.drop_table('school_projects')
