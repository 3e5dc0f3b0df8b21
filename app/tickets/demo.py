"""The helpdesk's demo data for `flask seed-demo`: an SLA policy, knowledge base articles and a
dozen tickets in every status, all written through `app.tickets.services`.

Every step looks for its result first (a policy or article by name, a ticket by subject and
customer, a reply by its text, a status already reached), so a run that stopped half-way is
completed by running it again, without duplicates. The SLA policy comes before the tickets:
their due times are computed when they are created.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.tickets import services
from app.tickets.models import KnowledgeArticle, SLAPolicy, Ticket, TicketComment

SLA_POLICY = {
    "name": "Standard support",
    "is_default": True,
    "urgent_first_response_minutes": 30, "urgent_resolution_minutes": 240,
    "high_first_response_minutes": 120, "high_resolution_minutes": 960,
    "medium_first_response_minutes": 480, "medium_resolution_minutes": 2880,
    "low_first_response_minutes": 1440, "low_resolution_minutes": 7200,
    "business_hours_only": False,  # around the clock: the due times shown follow from the creation time
    "business_days": [0, 1, 2, 3, 4], "business_start": "09:00", "business_end": "17:00", "timezone": "UTC",
}

ARTICLES = (
    ("Resetting your password",
     ("Choose \"Forgot your password?\" on the sign-in page and enter your email address. The link in the "
      "message works once, for one hour. No message after ten minutes? Check your spam folder, then open a "
      "ticket and we will check the mail log for you.")),
    ("Adding a workspace",
     ("Admins (and members with the \"manage workspaces\" permission) add workspaces on the Workspaces page. "
      "Each workspace has its own naming rules and generated names; switch between them in the top bar.")),
    ("Why was my storage account name refused?",
     ("Azure storage account names are 3 to 24 characters, lowercase letters and digits only: no hyphens. "
      "The \"Storage accounts\" naming rule drops the delimiter for you and says so in its preview.")),
)


@dataclass(frozen=True)
class DemoTicket:
    subject: str
    customer: str  # a handle of `users`
    priority: str
    description: str
    opened_by: str = ""  # an agent opening the ticket for the customer (a phone call); default the customer
    assignee: str = ""
    tags: tuple[str, ...] = ()
    custom_fields: str = ""
    conversation: tuple[tuple[str, str, bool], ...] = ()  # (author handle, text, internal note)
    statuses: tuple[str, ...] = ()  # the status changes after the conversation, in order
    rating: tuple[int, str] | None = None


TICKETS = (
    DemoTicket(
        "Can't sign in after resetting my password", "customer", "urgent",
        "I reset my password this morning and now the sign-in page says my email or password is wrong. "
        "I have a customer call in an hour and need the reports.",
        assignee="agent", tags=("login", "account"), custom_fields="Browser: Firefox 128\nPlan: Professional",
        conversation=(
            ("agent", ("Sorry about that, Casey. I have lifted the lock on your account: it was locked after "
                       "several failed attempts. Please try again in a private window and tell me what you see."),
             False),
            ("agent", ("Throttling locked the account after five failures from the office IP. Unlocked by hand; "
                       "if it happens again, check the password manager's autofill."), True),
        )),
    DemoTicket(
        "Invoice 2024-118 shows the wrong VAT number", "customer", "high",
        "Our invoice for October has the VAT number of our old company address. Our accountant needs a "
        "corrected invoice before the end of the month.",
        assignee="agent", tags=("billing", "invoice"),
        conversation=(("agent", ("Thanks for flagging this. Could you send us the VAT number that should be on "
                                 "the invoice? We will issue a corrected one the same day."), False),),
        statuses=("pending",)),
    DemoTicket(
        "Excel export times out for reports over 100k rows", "customer2", "high",
        "Exporting the yearly time report to Excel spins for ten minutes and then fails. CSV works.",
        assignee="manager", tags=("exports", "performance"),
        conversation=(
            ("manager", ("Reproduced with 180,000 time entries: the export hits the job time limit. Raised with "
                         "the platform team."), True),
            ("manager", ("We can reproduce it and are working on a fix. Until then, the CSV export of the same "
                         "report completes normally and opens in Excel."), False),
        )),
    DemoTicket(
        "How do I add a second workspace?", "customer", "low",
        "We want to keep the marketing team's names apart from IT's. Is that what workspaces are for?",
        assignee="agent", tags=("how-to", "workspaces"),
        conversation=(
            ("agent", ("Exactly. An admin adds one on the Workspaces page; each workspace has its own naming "
                       "rules and names. The knowledge base article \"Adding a workspace\" has the details."), False),
            ("customer", "Found it, and the marketing workspace is up. Thanks!", False),
        ),
        statuses=("resolved",), rating=(5, "Quick and clear answer, thank you!")),
    DemoTicket(
        "Dark mode for the dashboard", "customer2", "low",
        "Half of our team works late; a dark theme would be easier on the eyes.",
        tags=("feature-request",)),
    DemoTicket(
        "Storage account names rejected by Azure", "customer2", "medium",
        "Names like prod-billing-weu-001 from our naming rule are refused by Azure when we create the "
        "storage accounts.",
        assignee="agent", tags=("naming-rules",),
        conversation=(
            ("agent", ("Azure storage accounts allow only lowercase letters and digits. The \"Storage accounts\" "
                       "rule in the General workspace now drops the hyphens for you: try a new generation."), False),
            ("customer2", "That worked for the first batch. I'll check the rest tomorrow.", False),
        )),
    DemoTicket(
        "Charged twice for the November subscription", "customer", "urgent",
        "Our card statement shows two charges for the November subscription on the same day.",
        assignee="manager", tags=("billing", "refund"),
        conversation=(
            ("manager", "The payment provider shows two captures; refund R-5521 issued for the second.", True),
            ("manager", ("You are right, the card was charged twice. We have refunded the duplicate charge; it "
                         "shows on your statement within five business days."), False),
        ),
        statuses=("resolved", "closed")),
    DemoTicket(
        "Please add our Oslo office to the region list", "customer2", "medium",
        "We are opening an office in Oslo and need a region value for it in our naming rules.",
        tags=("naming-rules", "regions")),
    DemoTicket(
        "Timesheet week starts on Monday, we expected Sunday", "customer", "low",
        "Is there a way to make the timesheet start the week on Sunday?",
        assignee="agent", tags=("timesheet",),
        conversation=(("agent", ("The timesheet follows ISO weeks, which start on Monday, so that weekly exports "
                                 "line up across time zones. Sunday-first weeks are on our list."), False),),
        statuses=("resolved",)),
    DemoTicket(
        "Password reset email never arrives", "customer2", "high",
        "I asked for a reset link three times; nothing arrived, not even in spam.",
        assignee="agent", tags=("email", "login"),
        conversation=(("agent", ("Our mail log shows the messages were accepted by your mail server. Could you "
                                 "ask your IT team whether it holds mail from new senders?"), False),),
        statuses=("pending",)),
    DemoTicket(
        "Onboarding session for five new colleagues", "customer", "medium",
        "Casey called: five new colleagues start next week and need a walk-through of tickets and timesheets.",
        opened_by="agent", assignee="agent", tags=("onboarding",),
        conversation=(
            ("agent", "As discussed on the phone: Thursday at 10:00 works for us. I'll send the invitation.", False),
            ("customer", "Perfect, see you then.", False),
        )),
    DemoTicket(
        "Test ticket, please ignore", "customer2", "low",
        "Testing the new ticket form.",
        statuses=("cancelled",)),
)


def load_demo(*, organization, users: dict) -> None:
    _sla_policy(organization, users["admin"])
    for title, content in ARTICLES:
        _article(organization, users["manager"], title, content)
    for spec in TICKETS:
        _ticket(organization, users, spec)


def _sla_policy(organization, actor) -> None:
    """The demo's default policy, made from the organization's own default (every organization starts with one),
    unless a policy of that name exists (saving queues a due-time recompute job)."""
    exists = db.session.scalar(sa.select(SLAPolicy.id).where(SLAPolicy.organization_id == organization.id,
                                                             SLAPolicy.name == SLA_POLICY["name"]))
    if exists is None:
        default = db.session.scalars(sa.select(SLAPolicy).where(SLAPolicy.organization_id == organization.id,
                                                                SLAPolicy.is_default.is_(True))).first()
        services.sla_policy_save(organization_id=organization.id, actor=actor, policy=default,
                                 data=dict(SLA_POLICY))


def _article(organization, author, title: str, content: str) -> None:
    exists = db.session.scalar(sa.select(KnowledgeArticle.id).where(
        KnowledgeArticle.organization_id == organization.id, KnowledgeArticle.title == title))
    if exists is None:
        services.article_save(organization_id=organization.id, author=author, title=title, content=content,
                              is_published=True)


def _ticket(organization, users: dict, spec: DemoTicket) -> None:
    customer = users[spec.customer]
    staff = users[spec.assignee or "manager"]
    ticket = db.session.scalars(sa.select(Ticket).where(
        Ticket.organization_id == organization.id, Ticket.customer_id == customer.id,
        Ticket.subject == spec.subject)).first()
    if ticket is None:
        ticket = services.ticket_create(organization=organization, actor=users[spec.opened_by or spec.customer],
                                        customer=customer, subject=spec.subject, description=spec.description,
                                        priority=spec.priority)
    if spec.assignee and ticket.assigned_agent_id is None:
        services.ticket_assign(ticket=ticket, actor=users["manager"], agent=staff)
    if list(ticket.tags or []) != list(spec.tags):
        services.ticket_set_tags(ticket=ticket, actor=staff, text=", ".join(spec.tags))
    if spec.custom_fields and not ticket.custom_fields:
        services.ticket_set_custom_fields(ticket=ticket, actor=staff, text=spec.custom_fields)
    for author, text, internal in spec.conversation:
        said = db.session.scalar(sa.select(TicketComment.id).where(TicketComment.ticket_id == ticket.id,
                                                                   TicketComment.content == text))
        if said is None:
            services.comment_add(ticket=ticket, author=users[author], content=text, internal=internal)
    # Walk the remaining status changes (a re-run starts after the last one reached).
    done = spec.statuses.index(ticket.status) + 1 if ticket.status in spec.statuses else 0
    for status in spec.statuses[done:]:
        services.ticket_change_status(ticket=ticket, actor=staff, status=status)
    if spec.rating and ticket.customer_satisfaction_score is None:
        score, comment = spec.rating
        services.ticket_rate(ticket=ticket, customer=customer, score=score, comment=comment)
