"""rules: dimensions, platforms, rules, previews, generations, names, conflict checks

Revision ID: 0002_rules
Revises: 0001_platform
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

revision = '0002_rules'
down_revision = '0001_platform'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index('idx_api_token_user', ['user_id', 'revoked_at'], unique=False)

    op.create_table('rule_dimensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=50), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('min_length', sa.Integer(), nullable=True),
    sa.Column('max_length', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delete_reason', sa.String(length=255), server_default='', nullable=False),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('list', 'free_text')", name='check_dimension_kind'),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['users.id'], name=op.f('fk_rule_dimensions_deleted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_rule_dimensions_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rule_dimensions_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_dimensions')),
    sa.UniqueConstraint('workspace_id', 'key', name='uq_dimension_workspace_key')
    )
    with op.batch_alter_table('rule_dimensions', schema=None) as batch_op:
        batch_op.create_index('idx_dimension_workspace_position', ['workspace_id', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_dimensions_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_dimensions_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('rule_platforms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('max_length', sa.Integer(), nullable=True),
    sa.Column('allowed_chars', sa.String(length=200), nullable=False),
    sa.Column('regex', sa.String(length=500), nullable=False),
    sa.Column('lowercase_only', sa.Boolean(), nullable=False),
    sa.Column('invalid_first_chars', sa.String(length=50), nullable=False),
    sa.Column('invalid_last_chars', sa.String(length=50), nullable=False),
    sa.Column('invalid_consecutive_chars', sa.String(length=50), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delete_reason', sa.String(length=255), server_default='', nullable=False),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['users.id'], name=op.f('fk_rule_platforms_deleted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_rule_platforms_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rule_platforms_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_platforms')),
    sa.UniqueConstraint('workspace_id', 'name', name='uq_platform_workspace_name')
    )
    with op.batch_alter_table('rule_platforms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_platforms_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_platforms_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('rule_submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_rule_submissions_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_rule_submissions_submitted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rule_submissions_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_submissions'))
    )
    with op.batch_alter_table('rule_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_submissions_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_submissions_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('rule_dimension_values',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dimension_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('short_code', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delete_reason', sa.String(length=255), server_default='', nullable=False),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['users.id'], name=op.f('fk_rule_dimension_values_deleted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dimension_id'], ['rule_dimensions.id'], name=op.f('fk_rule_dimension_values_dimension_id_rule_dimensions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_rule_dimension_values_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rule_dimension_values_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_dimension_values')),
    sa.UniqueConstraint('dimension_id', 'value', name='uq_dimension_value')
    )
    with op.batch_alter_table('rule_dimension_values', schema=None) as batch_op:
        batch_op.create_index('idx_dimension_value_position', ['dimension_id', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_dimension_values_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_dimension_values_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delete_reason', sa.String(length=255), server_default='', nullable=False),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['users.id'], name=op.f('fk_rules_deleted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_rules_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['rule_platforms.id'], name=op.f('fk_rules_platform_id_rule_platforms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rules_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rules')),
    sa.UniqueConstraint('workspace_id', 'name', name='uq_rule_workspace_name')
    )
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rules_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rules_platform_id'), ['platform_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rules_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('conflict_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposed_strings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('scope', sa.String(length=50), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=True),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('conflicts_found', sa.Integer(), nullable=False),
    sa.Column('max_severity', sa.String(length=20), nullable=True),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("scope IN ('workspace', 'platform', 'rule')", name='check_conflict_scope'),
    sa.ForeignKeyConstraint(['checked_by_id'], ['users.id'], name=op.f('fk_conflict_checks_checked_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_conflict_checks_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['rule_platforms.id'], name=op.f('fk_conflict_checks_platform_id_rule_platforms'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_conflict_checks_rule_id_rules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_conflict_checks_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conflict_checks'))
    )
    with op.batch_alter_table('conflict_checks', schema=None) as batch_op:
        batch_op.create_index('idx_conflict_check_workspace_created', ['workspace_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflict_checks_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflict_checks_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('generations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('dimension_values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('field_filter', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('result_count', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
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
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_generations_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_generations_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_generations_rule_id_rules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['rule_submissions.id'], name=op.f('fk_generations_submission_id_rule_submissions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_generations_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generations'))
    )
    with op.batch_alter_table('generations', schema=None) as batch_op:
        batch_op.create_index('idx_generation_rule_status', ['rule_id', 'status'], unique=False)
        batch_op.create_index('idx_generation_workspace_created', ['workspace_id', 'created_at'], unique=False)
        batch_op.create_index('idx_generation_workspace_status', ['workspace_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_generations_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_generations_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_generations_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('rule_fields',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('pattern', sa.String(length=500), nullable=False),
    sa.Column('casing', sa.String(length=20), nullable=False),
    sa.Column('delimiter', sa.String(length=5), nullable=False),
    sa.Column('fallback_delimiters', sa.String(length=20), nullable=False),
    sa.Column('max_length', sa.Integer(), nullable=True),
    sa.Column('truncation', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("casing IN ('as_is', 'lower', 'upper', 'title')", name='check_rule_field_casing'),
    sa.CheckConstraint("truncation IN ('refuse', 'truncate_end', 'shorten_values')", name='check_rule_field_truncation'),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_rule_fields_rule_id_rules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_fields'))
    )
    with op.batch_alter_table('rule_fields', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_fields_rule_id'), ['rule_id'], unique=False)

    op.create_table('rule_previews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('test_data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('generated_examples', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('validation_results', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_rule_previews_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_rule_previews_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_rule_previews_rule_id_rules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rule_previews_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_previews'))
    )
    with op.batch_alter_table('rule_previews', schema=None) as batch_op:
        batch_op.create_index('idx_rule_preview_rule_created', ['rule_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_previews_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_previews_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('rule_propagations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dimension_value_id', sa.Integer(), nullable=True),
    sa.Column('dimension_key', sa.String(length=50), nullable=False),
    sa.Column('old_value', sa.String(length=100), nullable=False),
    sa.Column('new_value', sa.String(length=100), nullable=False),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
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
    sa.ForeignKeyConstraint(['dimension_value_id'], ['rule_dimension_values.id'], name=op.f('fk_rule_propagations_dimension_value_id_rule_dimension_values'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_rule_propagations_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_rule_propagations_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rule_propagations_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_propagations'))
    )
    with op.batch_alter_table('rule_propagations', schema=None) as batch_op:
        batch_op.create_index('idx_propagation_workspace_created', ['workspace_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_propagations_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_propagations_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_propagations_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('strings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('normalized', sa.String(length=255), nullable=False),
    sa.Column('reversed_value', sa.String(length=255), nullable=False),
    sa.Column('dimension_values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('field_id', sa.Integer(), nullable=True),
    sa.Column('generation_id', sa.Integer(), nullable=True),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delete_reason', sa.String(length=255), server_default='', nullable=False),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_strings_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['users.id'], name=op.f('fk_strings_deleted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['field_id'], ['rule_fields.id'], name=op.f('fk_strings_field_id_rule_fields'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['generation_id'], ['generations.id'], name=op.f('fk_strings_generation_id_generations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_strings_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_strings_rule_id_rules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submission_id'], ['rule_submissions.id'], name=op.f('fk_strings_submission_id_rule_submissions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_strings_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strings'))
    )
    with op.batch_alter_table('strings', schema=None) as batch_op:
        batch_op.create_index('idx_string_rule_active', ['rule_id', 'is_active'], unique=False)
        batch_op.create_index('idx_string_workspace_normalized', ['workspace_id', 'normalized'], unique=False)
        batch_op.create_index('idx_string_workspace_reversed', ['workspace_id', 'reversed_value'], unique=False)
        batch_op.create_index('idx_string_workspace_value', ['workspace_id', 'value'], unique=False)
        batch_op.create_index(batch_op.f('ix_strings_generation_id'), ['generation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_strings_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_strings_workspace_id'), ['workspace_id'], unique=False)
        batch_op.create_index('uq_string_workspace_active_value', ['workspace_id', 'value'], unique=True, sqlite_where=sa.text('is_active'), postgresql_where=sa.text('is_active'))

    op.create_table('conflict_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('proposed_value', sa.String(length=255), nullable=False),
    sa.Column('conflicting_string_id', sa.Integer(), nullable=True),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("severity IN ('info', 'warning', 'error', 'critical')", name='check_conflict_severity'),
    sa.ForeignKeyConstraint(['check_id'], ['conflict_checks.id'], name=op.f('fk_conflict_results_check_id_conflict_checks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['conflicting_string_id'], ['strings.id'], name=op.f('fk_conflict_results_conflicting_string_id_strings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conflict_results'))
    )
    with op.batch_alter_table('conflict_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conflict_results_check_id'), ['check_id'], unique=False)


def downgrade():
    op.drop_table('conflict_results')
    op.drop_table('strings')
    op.drop_table('rule_propagations')
    op.drop_table('rule_previews')
    op.drop_table('rule_fields')
    op.drop_table('generations')
    op.drop_table('conflict_checks')
    op.drop_table('rules')
    op.drop_table('rule_dimension_values')
    op.drop_table('rule_submissions')
    op.drop_table('rule_platforms')
    op.drop_table('rule_dimensions')
    op.drop_table('api_tokens')
