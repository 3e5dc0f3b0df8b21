"""Seed 002's test factories (factory_boy): school, self-study and complete projects with metadata and dates.

They build rows through the models in the test's database session, so validation and
hooks run as in production. An owner is made in a new organization unless one is given:

    project = SchoolProjectFactory(owner=user)
    project = complete_school_project(owner=user)     # 3 metadata entries and 2 important dates
"""
from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from app.accounts.models import Organization, User
from app.extensions import db
from app.projects.models import DATE_KINDS, STUDY_FREQUENCY_LABELS, ImportantDate, ProjectMeta, SchoolProject, SelfStudyProject
from tests.factories import PASSWORD, _hash


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - the app context's session, at build time
        sqlalchemy_session_persistence = "commit"


class OrganizationFactory(_Base):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Study group {n}")
    slug = factory.Sequence(lambda n: f"study-group-{n}")
    subscription_tier = "professional"


class UserFactory(_Base):
    class Meta:
        model = User

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"student{n}@example.com")
    full_name = factory.Faker("name")
    role = "agent"
    availability_status = "online"
    password_hash = factory.LazyFunction(lambda: _hash(PASSWORD))


class _ProjectFactory(_Base):
    class Meta:
        abstract = True

    name = factory.Faker("catch_phrase")
    owner = factory.SubFactory(UserFactory)
    organization_id = factory.LazyAttribute(lambda project: project.owner.organization_id)
    description = factory.Faker("sentence")
    start_date = factory.Faker("date_between", start_date="-60d", end_date="today")
    end_date = factory.Faker("date_between", start_date="+30d", end_date="+120d")


class SchoolProjectFactory(_ProjectFactory):
    class Meta:
        model = SchoolProject

    course_name = factory.Faker("catch_phrase")
    course_code = factory.Faker("bothify", text="???-###", letters="ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    teacher_name = factory.Faker("name")


class SelfStudyProjectFactory(_ProjectFactory):
    class Meta:
        model = SelfStudyProject

    goal_description = factory.Faker("sentence", nb_words=12)
    study_frequency = factory.Iterator(STUDY_FREQUENCY_LABELS.values())


class ProjectMetaFactory(_Base):
    class Meta:
        model = ProjectMeta

    project = None  # given by the caller
    key = factory.Sequence(lambda n: f"key_{n}")
    value = factory.Faker("pydict", nb_elements=2, value_types=[int, str])


class ImportantDateFactory(_Base):
    class Meta:
        model = ImportantDate

    project = None  # given by the caller
    kind = factory.Iterator(DATE_KINDS)
    title = factory.Faker("sentence", nb_words=3)
    date = factory.Faker("date_between", start_date="+1d", end_date="+90d")


def complete_school_project(**kwargs) -> SchoolProject:
    """Seed 002's CompleteSchoolProjectFactory: a school project with 3 metadata entries and 2 dates."""
    project = SchoolProjectFactory(**kwargs)
    ProjectMetaFactory.create_batch(3, project=project)
    ImportantDateFactory.create_batch(2, project=project)
    return project


def complete_self_study_project(**kwargs) -> SelfStudyProject:
    project = SelfStudyProjectFactory(**kwargs)
    ProjectMetaFactory.create_batch(3, project=project)
    ImportantDateFactory.create_batch(2, project=project)
    return project
