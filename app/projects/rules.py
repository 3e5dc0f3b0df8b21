"""Centralized validation rules of the projects area: the flush refuses what the forms refuse."""
from app.platform.validation import (
    ChoiceValidationRule,
    PatternValidationRule,
    LengthValidationRule,
    RangeValidationRule,
    RequiredValidationRule,
    ValidationRule,
    validator,
)
from app.projects.archives import UnsafePath, check_member_path
from app.projects.models import (
    DATE_KINDS,
    GeneratedProject,
    EXPORT_TYPES,
    PROJECT_TYPES,
    ImportantDate,
    ProjectFile,
    Project,
    ProjectMeta,
    RepositoryExport,
    SchoolProject,
    SelfStudyProject,
)


class RelativePathRule(ValidationRule):
    """A generated file's path: relative, no `..`, no backslashes or control characters."""

    value_only = True
    default_message = "{label} must be a relative path inside the project (no leading '/', no '..')."

    def validate(self, value, model_instance):
        try:
            check_member_path(value)
        except UnsafePath:
            return False
        return True


class OutputDirectoryRule(RelativePathRule):
    """A generation's output directory: empty until the job sets it, then a relative path under storage."""

    def validate(self, value, model_instance):
        return value == "" or super().validate(value, model_instance)


class DatesOrderedRule(ValidationRule):
    default_message = "The end date can't be before the start date."

    def validate(self, value, model_instance):
        start = getattr(model_instance, "start_date", None)
        return value is None or start is None or value >= start


validator.add_model_rules(Project, [
    RequiredValidationRule("name", label="project name"),
    LengthValidationRule("name", 255, label="project name"),
    ChoiceValidationRule("project_type", PROJECT_TYPES, label="project type"),
    DatesOrderedRule("end_date", label="end date"),
])
validator.add_model_rules(SchoolProject, [
    RequiredValidationRule("course_name", label="course name"),
    LengthValidationRule("course_name", 255, label="course name"),
    RequiredValidationRule("course_code", label="course code"),
    LengthValidationRule("course_code", 50, label="course code"),
    RequiredValidationRule("teacher_name", label="teacher name"),
    LengthValidationRule("teacher_name", 255, label="teacher name"),
])
validator.add_model_rules(SelfStudyProject, [
    RequiredValidationRule("goal_description", label="goal"),
    RequiredValidationRule("study_frequency", label="study frequency"),
    LengthValidationRule("study_frequency", 50, label="study frequency"),
])
validator.add_model_rules(ProjectMeta, [
    RequiredValidationRule("key"),
    LengthValidationRule("key", 255),
])
validator.add_model_rules(ImportantDate, [
    RequiredValidationRule("title"),
    LengthValidationRule("title", 200),
    RequiredValidationRule("date"),
    ChoiceValidationRule("kind", DATE_KINDS, label="kind of date"),
])
validator.add_model_rules(ProjectFile, [
    RelativePathRule("file_path", label="file path"),
    RequiredValidationRule("content_hash", label="content hash"),
    PatternValidationRule("content_hash", r"^[0-9a-f]{64}$", label="content hash",
                          error_message="The content hash must be a SHA-256 digest (64 lowercase hex characters)."),
    RangeValidationRule("file_size", 0, None, allow_none=False, label="file size"),
])
validator.add_model_rules(RepositoryExport, [
    ChoiceValidationRule("export_type", EXPORT_TYPES, label="export type"),
])
validator.add_model_rules(GeneratedProject, [
    OutputDirectoryRule("output_directory", label="output directory"),
])
