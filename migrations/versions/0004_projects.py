"""projects: study projects, generated projects, files, repository exports

Revision ID: 0004_projects
Revises: 0003_tickets
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

revision = '0004_projects'
down_revision = '0003_tickets'
branch_labels = None
depends_on = None


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade():
    op.create_table('project_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('questions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('storage_path', sa.String(length=500), nullable=False),
    sa.Column('total_files', sa.Integer(), nullable=False),
    sa.Column('total_size', sa.BigInteger(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_project_templates_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_project_templates_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_templates')),
    sa.UniqueConstraint('organization_id', 'slug', name='uq_project_template_slug')
    )
    with op.batch_alter_table('project_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_templates_organization_id'), ['organization_id'], unique=False)

    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('project_type', sa.String(length=20), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('is_draft', sa.Boolean(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('course_name', sa.String(length=255), nullable=True),
    sa.Column('course_code', sa.String(length=50), nullable=True),
    sa.Column('teacher_name', sa.String(length=255), nullable=True),
    sa.Column('goal_description', sa.Text(), nullable=True),
    sa.Column('study_frequency', sa.String(length=50), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("project_type <> 'school' OR ((course_name IS NOT NULL AND TRIM(course_name) <> '') AND (course_code IS NOT NULL AND TRIM(course_code) <> '') AND (teacher_name IS NOT NULL AND TRIM(teacher_name) <> ''))", name='check_school_project_fields_required'),
    sa.CheckConstraint("project_type <> 'school' OR (goal_description IS NULL AND study_frequency IS NULL)", name='check_school_project_no_self_study_fields'),
    sa.CheckConstraint("project_type <> 'self_study' OR ((goal_description IS NOT NULL AND TRIM(goal_description) <> '') AND (study_frequency IS NOT NULL AND TRIM(study_frequency) <> ''))", name='check_self_study_project_fields_required'),
    sa.CheckConstraint("project_type <> 'self_study' OR (course_name IS NULL AND course_code IS NULL AND teacher_name IS NULL)", name='check_self_study_project_no_school_fields'),
    sa.CheckConstraint("project_type IN ('school', 'self_study')", name='check_project_type_valid'),
    sa.CheckConstraint('end_date IS NULL OR start_date IS NULL OR end_date >= start_date', name='check_project_dates_ordered'),
    sa.CheckConstraint('is_draft OR published_at IS NOT NULL', name='check_project_published_at'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_projects_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_projects_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index('idx_project_draft_cleanup', ['is_draft', 'updated_at', 'id'], unique=False)
        batch_op.create_index('idx_project_owner_type', ['organization_id', 'owner_id', 'project_type', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_owner_id'), ['owner_id'], unique=False)

    op.create_table('project_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('storage_path', sa.String(length=500), nullable=False),
    sa.Column('content_type', sa.String(length=120), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delete_reason', sa.String(length=255), server_default='', nullable=False),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('size >= 0', name='check_project_attachment_size'),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['users.id'], name=op.f('fk_project_attachments_deleted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_project_attachments_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_attachments_project_id_projects'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_project_attachments_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_attachments'))
    )
    with op.batch_alter_table('project_attachments', schema=None) as batch_op:
        batch_op.create_index('idx_project_attachment_project', ['project_id', 'is_active'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_attachments_organization_id'), ['organization_id'], unique=False)

    op.create_table('project_important_dates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('deadline', 'exam', 'milestone')", name='check_important_date_kind_valid'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_important_dates_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_important_dates'))
    )
    with op.batch_alter_table('project_important_dates', schema=None) as batch_op:
        batch_op.create_index('idx_important_date_project_date', ['project_id', 'date'], unique=False)

    op.create_table('project_meta',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("TRIM(key) <> ''", name='check_project_meta_key_not_empty'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_meta_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_meta')),
    sa.UniqueConstraint('project_id', 'key', name='uq_project_meta_key')
    )
    with op.batch_alter_table('project_meta', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_meta_project_id'), ['project_id'], unique=False)

    if _is_postgresql():
        op.create_index('idx_project_meta_value_gin', 'project_meta', ['value'], unique=False, postgresql_using='gin')

    op.create_table('workflow_executions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('workflow', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('steps', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('log', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_workflow_executions_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_workflow_executions_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_executions'))
    )
    with op.batch_alter_table('workflow_executions', schema=None) as batch_op:
        batch_op.create_index('idx_workflow_project_created', ['project_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_workflow_executions_organization_id'), ['organization_id'], unique=False)

    op.create_table('generated_projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('workflow_execution_id', sa.Integer(), nullable=True),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('template_key', sa.String(length=100), nullable=False),
    sa.Column('template_name', sa.String(length=200), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('output_directory', sa.String(length=500), nullable=False),
    sa.Column('total_files', sa.Integer(), nullable=False),
    sa.Column('total_size', sa.BigInteger(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('progress_message', sa.String(length=255), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('rq_job_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'generating', 'completed', 'failed', 'archived')", name='check_generated_project_status_valid'),
    sa.CheckConstraint('total_files >= 0 AND total_size >= 0', name='check_generated_project_totals'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_generated_projects_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_generated_projects_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['previous_id'], ['generated_projects.id'], name=op.f('fk_generated_projects_previous_id_generated_projects'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_generated_projects_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_execution_id'], ['workflow_executions.id'], name=op.f('fk_generated_projects_workflow_execution_id_workflow_executions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generated_projects'))
    )
    with op.batch_alter_table('generated_projects', schema=None) as batch_op:
        batch_op.create_index('idx_generated_project_creator_created', ['created_by_id', 'created_at'], unique=False)
        batch_op.create_index('idx_generated_project_project_created', ['project_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_generated_projects_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_generated_projects_status'), ['status'], unique=False)

    op.create_table('project_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('generated_project_id', sa.Integer(), nullable=False),
    sa.Column('file_path', sa.String(length=500), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_type', sa.String(length=50), nullable=False),
    sa.Column('file_size', sa.BigInteger(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('content_preview', sa.Text(), nullable=False),
    sa.Column('is_executable', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("file_path <> '' AND file_path NOT LIKE '/%' AND file_path <> '..' AND file_path NOT LIKE '../%' AND file_path NOT LIKE '%/../%' AND file_path NOT LIKE '%/..'", name='check_project_file_path_relative'),
    sa.CheckConstraint('file_size >= 0', name='check_project_file_size'),
    sa.ForeignKeyConstraint(['generated_project_id'], ['generated_projects.id'], name=op.f('fk_project_files_generated_project_id_generated_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_files')),
    sa.UniqueConstraint('generated_project_id', 'file_path', name='uq_project_file_path')
    )
    with op.batch_alter_table('project_files', schema=None) as batch_op:
        batch_op.create_index('idx_project_file_generated_path', ['generated_project_id', 'file_path'], unique=False)
        batch_op.create_index('idx_project_file_hash', ['content_hash'], unique=False)
        batch_op.create_index('idx_project_file_type', ['file_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_files_file_path'), ['file_path'], unique=False)

    op.create_table('repository_exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('generated_project_id', sa.Integer(), nullable=False),
    sa.Column('export_type', sa.String(length=20), nullable=False),
    sa.Column('repository_name', sa.String(length=255), nullable=False),
    sa.Column('repository_url', sa.String(length=500), nullable=False),
    sa.Column('include_git', sa.Boolean(), nullable=False),
    sa.Column('archive_path', sa.String(length=500), nullable=False),
    sa.Column('archive_size', sa.BigInteger(), nullable=True),
    sa.Column('archive_sha256', sa.String(length=64), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('credential', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('progress_message', sa.String(length=255), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('rq_job_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("export_type IN ('zip', 'tar', 'tar.gz', 'github', 'gitlab', 'git')", name='check_repository_export_type_valid'),
    sa.CheckConstraint("status IN ('pending', 'exporting', 'completed', 'failed')", name='check_repository_export_status_valid'),
    sa.CheckConstraint('archive_size IS NULL OR archive_size >= 0', name='check_repository_export_size'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_repository_exports_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['generated_project_id'], ['generated_projects.id'], name=op.f('fk_repository_exports_generated_project_id_generated_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_repository_exports_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repository_exports'))
    )
    with op.batch_alter_table('repository_exports', schema=None) as batch_op:
        batch_op.create_index('idx_repository_export_generated_created', ['generated_project_id', 'created_at'], unique=False)
        batch_op.create_index('idx_repository_export_type', ['export_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_repository_exports_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_repository_exports_status'), ['status'], unique=False)


def downgrade():
    if _is_postgresql():
        op.drop_index('idx_project_meta_value_gin', table_name='project_meta')
    with op.batch_alter_table('repository_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repository_exports_status'))
        batch_op.drop_index(batch_op.f('ix_repository_exports_organization_id'))
        batch_op.drop_index('idx_repository_export_type')
        batch_op.drop_index('idx_repository_export_generated_created')

    op.drop_table('repository_exports')
    with op.batch_alter_table('project_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_files_file_path'))
        batch_op.drop_index('idx_project_file_type')
        batch_op.drop_index('idx_project_file_hash')
        batch_op.drop_index('idx_project_file_generated_path')

    op.drop_table('project_files')
    with op.batch_alter_table('generated_projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_generated_projects_status'))
        batch_op.drop_index(batch_op.f('ix_generated_projects_organization_id'))
        batch_op.drop_index('idx_generated_project_project_created')
        batch_op.drop_index('idx_generated_project_creator_created')

    op.drop_table('generated_projects')
    with op.batch_alter_table('workflow_executions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workflow_executions_organization_id'))
        batch_op.drop_index('idx_workflow_project_created')

    op.drop_table('workflow_executions')
    with op.batch_alter_table('project_meta', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_meta_project_id'))

    op.drop_table('project_meta')
    with op.batch_alter_table('project_important_dates', schema=None) as batch_op:
        batch_op.drop_index('idx_important_date_project_date')

    op.drop_table('project_important_dates')
    with op.batch_alter_table('project_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_attachments_organization_id'))
        batch_op.drop_index('idx_project_attachment_project')

    op.drop_table('project_attachments')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_projects_owner_id'))
        batch_op.drop_index(batch_op.f('ix_projects_organization_id'))
        batch_op.drop_index('idx_project_owner_type')
        batch_op.drop_index('idx_project_draft_cleanup')

    op.drop_table('projects')
    with op.batch_alter_table('project_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_templates_organization_id'))

    op.drop_table('project_templates')
