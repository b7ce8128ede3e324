"""Error messages as a large customer's engine sends them: a few hundred
signatures, many of their messages carrying ids, numbers and quoted values,
a few signatures making most of the failures, the same records failing
again cycle after cycle."""

import random
from dataclasses import dataclass

from dashboard.syncerrors.signatures import failure_signature, message_template

# (error code, field, message with its variable parts named) as Salesforce words them.
PATTERNS = [
    ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "PostalCode", "Postal code is required"),
    ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Phone", "Phone must have {n} digits"),
    ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Country", "Country {value} is not allowed"),
    ("STRING_TOO_LONG", "Company", "Company: data value too large: {value} (max length={n})"),
    ("STRING_TOO_LONG", "Title", "Title: data value too large: {value} (max length={n})"),
    ("DUPLICATES_DETECTED", "", "Use one of these records?"),
    ("DUPLICATES_DETECTED", "", "Duplicate of {id} detected by rule {value}"),
    ("UNABLE_TO_LOCK_ROW", "", "unable to obtain exclusive access to this record"),
    ("UNABLE_TO_LOCK_ROW", "", "unable to obtain exclusive access to this record or {n} records"),
    ("INVALID_EMAIL_ADDRESS", "Email", "Email: invalid email address: {email}"),
    ("REQUIRED_FIELD_MISSING", "LastName", "Required fields are missing: [LastName]"),
    ("REQUIRED_FIELD_MISSING", "Company", "Required fields are missing: [Company]"),
    ("INVALID_CROSS_REFERENCE_KEY", "OwnerId", "Owner ID: owner {id} cannot be inactive"),
    ("INVALID_CROSS_REFERENCE_KEY", "AccountId", "invalid cross reference id {id}"),
    ("ENTITY_IS_DELETED", "", "entity is deleted"),
    ("INVALID_FIELD", "", "No such column {value} on entity {value}"),
    ("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "", "Trigger {value} failed at line {n}"),
    ("FIELD_INTEGRITY_EXCEPTION", "Amount", "Amount {n} is out of range"),
    ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Status", "bad value for picklist: {value}"),
    ("", "", "Request timed out after {n} ms"),
    ("INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", "",
     "insufficient access rights on cross-reference id: {id}"),
    ("DUPLICATE_VALUE", "Email",
     "duplicate value found: Email duplicates value on record with id: {id}"),
    ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "LeadSource",
     "LeadSource: bad value for restricted picklist field: {value}"),
    ("CANNOT_UPDATE_CONVERTED_LEAD", "", "cannot reference converted lead"),
    ("FIELD_FILTER_VALIDATION_EXCEPTION", "AccountId",
     "Value does not exist or does not match filter criteria."),
    ("NUMBER_OUTSIDE_VALID_RANGE", "AnnualRevenue",
     "Annual Revenue: value outside of valid range on numeric field: {n}"),
]  # fmt: skip
# Where failures happen: most of them on a few objects, and what each allows.
OBJECTS = {"lead": 40, "contact": 25, "custom_object": 10, "opportunity": 10, "task": 5,
           "account": 4, "campaign_member": 3, "event": 2, "campaign": 1}  # fmt: skip
RECORD_PREFIX = {"lead": "00Q", "contact": "003", "opportunity": "006", "task": "00T",
                 "account": "001", "campaign_member": "00v", "event": "00U",
                 "campaign": "701"}  # fmt: skip
PLACEHOLDERS = {"value": "<value>", "n": "<n>", "id": "<id>", "email": "<email>"}


@dataclass
class Signature:
    object_type: str
    object_name: str | None
    operation: str
    code: str
    field: str
    pattern: str
    group_id: int
    template: str


class Catalogue:
    """The signatures of a customer, and messages drawn from them."""

    def __init__(self, rng: random.Random, operations: dict[str, list[str]]):
        self.rng = rng
        self.by_stream: dict[tuple[str, str], list[Signature]] = {}
        self.weights: dict[tuple[str, str], list[float]] = {}
        for object_type in OBJECTS:
            for operation in operations.get(object_type, []):
                # Each stream fails in a few ways, one of them much more than the others.
                patterns = rng.sample(PATTERNS, k=rng.randint(5, 12))
                signatures = [self._signature(object_type, operation, p) for p in patterns]
                self.by_stream[object_type, operation] = signatures
                self.weights[object_type, operation] = [rng.paretovariate(1.2) for _ in signatures]

    def _signature(self, object_type, operation, pattern) -> Signature:
        code, field, text = pattern
        name = "Invoice__c" if object_type == "custom_object" else None
        template = text.format(**PLACEHOLDERS)
        signature = failure_signature(object_type, name, operation, code, field, template)
        message = self.render(text, 1)
        # What the engine sends must group as the template says it does.
        assert message_template(message) == template == signature.template, message
        return Signature(object_type, name, operation, code, field, text, signature.group_id,
                         template)  # fmt: skip

    def signatures(self) -> list[Signature]:
        return [s for signatures in self.by_stream.values() for s in signatures]

    def pick(self, object_type: str, operation: str) -> Signature | None:
        signatures = self.by_stream.get((object_type, operation))
        if not signatures:
            return None
        return self.rng.choices(signatures, self.weights[object_type, operation])[0]

    def render(self, pattern: str, n: int) -> str:
        """A message of `pattern`, its variable parts drawn from what a customer
        has: a few thousand company names, a few hundred users, sizes of fields."""
        rng = self.rng
        return pattern.format(
            value=f"'{rng.choice(COMPANIES)} {rng.randrange(1000)}'",
            n=str(rng.choice([20, 40, 80, 255, 1000, rng.randrange(10)])),
            id=USERS[rng.randrange(len(USERS))],
            email=f"user{rng.randrange(5000)}@example.com",
        )


COMPANIES = ["ACME", "Initech", "Globex", "Umbrella", "Hooli", "Vandelay"]
USERS = [f"0055e{n:010d}AAK" for n in range(300)]
