"""projects: seed 003's validations in the database, and the single-column indexes it lists

- project_files.content_hash must be a SHA-256 digest (64 lowercase hex characters);
- generated_projects.output_directory must be empty or a safe relative path;
- created_at and updated_at indexes on generated_projects, project_files and repository_exports
  (seed 003: `db_index=True`; their status is indexed already).

Revision ID: 0011_projects_seed003_checks
Revises: 0010_org_directory_version
"""
from alembic import op


# Frozen copies of the models' SQL (a migration must not change when the models do).
CONTENT_HASH_SQL = "length(content_hash) = 64 AND ltrim(content_hash, '0123456789abcdef') = ''"
OUTPUT_DIRECTORY_SQL = (
    "output_directory = '' OR (output_directory NOT LIKE '/%' AND output_directory <> '..' "
    "AND output_directory NOT LIKE '../%' AND output_directory NOT LIKE '%/../%' "
    "AND output_directory NOT LIKE '%/..' AND replace(output_directory, '\\', '') = output_directory)"
)

revision = '0011_projects_seed003_checks'
down_revision = '0010_org_directory_version'
branch_labels = None
depends_on = None

INDEXES = [
    ("generated_projects", "idx_generated_project_created", "created_at"),
    ("generated_projects", "idx_generated_project_updated", "updated_at"),
    ("project_files", "idx_project_file_created", "created_at"),
    ("project_files", "idx_project_file_updated", "updated_at"),
    ("repository_exports", "idx_repository_export_created", "created_at"),
    ("repository_exports", "idx_repository_export_updated", "updated_at"),
]


def upgrade():
    with op.batch_alter_table('project_files', schema=None) as batch_op:
        batch_op.create_check_constraint('check_project_file_content_hash', CONTENT_HASH_SQL)
    with op.batch_alter_table('generated_projects', schema=None) as batch_op:
        batch_op.create_check_constraint('check_generated_project_output_directory', OUTPUT_DIRECTORY_SQL)
    for table, name, column in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, [column], unique=False)


def downgrade():
    for table, name, _column in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table('generated_projects', schema=None) as batch_op:
        batch_op.drop_constraint('check_generated_project_output_directory', type_='check')
    with op.batch_alter_table('project_files', schema=None) as batch_op:
        batch_op.drop_constraint('check_project_file_content_hash', type_='check')
