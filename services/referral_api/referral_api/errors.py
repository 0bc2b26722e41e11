"""Problems particular to referral_api; the base classes are in diversion_common.problems."""

from diversion_common.problems import Conflict, ValidationFailed


class DuplicateReferral(Conflict):
    slug = "duplicate-referral"
    title = "This force has already referred this occurrence"


class IdempotencyKeyReused(ValidationFailed):
    slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used with a different request body"


class CaseStatusConflict(Conflict):
    slug = "case-status-conflict"
    title = "The case's status does not allow this"


class BreachStepConflict(Conflict):
    slug = "breach-step-conflict"
    title = "The breach request's status does not allow this step"
