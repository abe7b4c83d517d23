"""Tables dispatch owns; importing this package registers every table of the product."""

# Contracts and calendars live in schedules; importing them first also sets the naming
# convention before any table here is declared.
from schedules.models import (
    BusinessHours,
    CalendarException,
    Contract,
    Holiday,
    QuotaEntry,
    WorkPattern,
)

from .customers import Customer, Site, SiteAccessHours
from .events import DeliveryStatus, EventTopic, OutboxEvent, WebhookDelivery, WebhookSubscription
from .field import RouteLock, TechnicianPosition, TrackingLink
from .plans import (
    JobStatus,
    Plan,
    PlanningJob,
    PlanningTask,
    PlanStatus,
    PlanStop,
    PlanUnassigned,
    RegionLock,
)
from .resources import Region, Skill, Technician, TechnicianSkill
from .users import IdempotencyRecord, LoginFailure, RefreshToken, Role, User
from .work import (
    Channel,
    MaterialUsage,
    ServiceRequest,
    TimeEntry,
    TimeEntryKind,
    Triage,
    Urgency,
    Visit,
    VisitSkill,
    VisitStatus,
    VisitTimeWindow,
)

__all__ = [
    "BusinessHours",
    "CalendarException",
    "Channel",
    "Contract",
    "Customer",
    "DeliveryStatus",
    "EventTopic",
    "Holiday",
    "IdempotencyRecord",
    "JobStatus",
    "LoginFailure",
    "MaterialUsage",
    "OutboxEvent",
    "Plan",
    "PlanStatus",
    "PlanStop",
    "PlanUnassigned",
    "PlanningJob",
    "PlanningTask",
    "QuotaEntry",
    "RefreshToken",
    "Region",
    "RegionLock",
    "Role",
    "RouteLock",
    "ServiceRequest",
    "Site",
    "SiteAccessHours",
    "Skill",
    "Technician",
    "TechnicianPosition",
    "TechnicianSkill",
    "TimeEntry",
    "TimeEntryKind",
    "TrackingLink",
    "Triage",
    "Urgency",
    "User",
    "Visit",
    "VisitSkill",
    "VisitStatus",
    "VisitTimeWindow",
    "WebhookDelivery",
    "WebhookSubscription",
    "WorkPattern",
]
