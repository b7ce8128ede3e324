"""CRM admins on the Sync Status page, for locust (`make load` runs it).

Each simulated admin logs in through the real login form, then browses as
people do, with a few seconds' thought between clicks: the first page most
often, filters (objects, operations, statuses, a start-time window), a sort,
a few pages deeper, now and then the CSV export of what is shown or the JSON
read API. Every page variant is reported under one name, "page", so that its
percentiles are the page's whatever the filter.

    locust -f devtools/loadtest/locustfile.py --headless -u 50 --host http://127.0.0.1:8000

Accounts: LOADTEST_USERS (default "loadtest-admin-1"...) with LOADTEST_PASSWORD,
made by `make load`. With LOADTEST_RECORD=file, every request (start,
name, milliseconds, error) and every error in a task is written there as JSON
lines when locust quits, for exact percentiles over any part of the run.
"""

import itertools
import json
import os
import random
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from locust import HttpUser, between, events, task
from locust.exception import StopUser

from dashboard.choices import ObjectType, Operation, Status

PAGE = "/integration/salesforce/sync-status/"
EXPORT = "/integration/salesforce/sync-status/export.csv"
API = "/api/v1/sync-steps/"
EXPORT_HEADER = "started_at,ended_at,object_type,operation,object_name,status,cycle_id,step_id,"

USERS = os.environ.get("LOADTEST_USERS", "loadtest-admin-1").split(",")
PASSWORD = os.environ.get("LOADTEST_PASSWORD", "")
accounts = itertools.cycle(USERS)

# What admins look for, most often first: the objects they own, what failed.
OBJECTS = [ObjectType.LEAD, ObjectType.CONTACT, ObjectType.ACCOUNT, ObjectType.OPPORTUNITY]
OBJECTS += [code for code in ObjectType.values if code not in OBJECTS]
STATUSES = [Status.FAILED, Status.INCOMPLETE, Status.SUCCEEDED, Status.CLEANED_UP]
STATUSES += [code for code in Status.values if code not in STATUSES]
WINDOWS = [timedelta(hours=1), timedelta(hours=6), timedelta(hours=24), timedelta(days=3)]


def favourites(choices: list, k: int) -> list[str]:
    """k distinct codes, the first of the list far more likely than the last."""
    weights = [1 / (rank + 1) for rank in range(len(choices))]
    picked: list[str] = []
    while len(picked) < k:
        code = str(random.choices(choices, weights)[0])
        if code not in picked:
            picked.append(code)
    return picked


def some_filters() -> list[tuple[str, str]]:
    """One to three of the page's filters, as the filter panel would send them."""
    params: list[tuple[str, str]] = []
    kinds = random.sample(["object_type", "operation", "status", "window"], random.randint(1, 3))
    if "object_type" in kinds:
        params += [("object_type", code) for code in favourites(OBJECTS, random.randint(1, 2))]
    if "operation" in kinds:
        params += [("operation", code) for code in random.sample(Operation.values, 1)]
    if "status" in kinds:
        params += [("status", code) for code in favourites(STATUSES, random.randint(1, 2))]
    if "window" in kinds:
        until = datetime.now(UTC) - random.choice([timedelta(0), timedelta(hours=12)])
        since = until - random.choice(WINDOWS)
        params += [("since", f"{since:%Y-%m-%dT%H:%M}Z"), ("until", f"{until:%Y-%m-%dT%H:%M}Z")]
    return params


records: list[dict] = []


@events.request.add_listener
def record_request(name, response_time, exception, start_time, **kwargs):
    error = None if exception is None else f"{type(exception).__name__}: {exception}"
    records.append({"start": start_time, "name": name, "ms": response_time, "error": error})


@events.user_error.add_listener
def record_user_error(user_instance, exception, tb, **kwargs):
    error = f"{type(exception).__name__} in a task: {exception}"
    records.append({"start": None, "name": "task", "ms": 0, "error": error})


@events.quitting.add_listener
def write_records(environment, **kwargs):
    if os.environ.get("LOADTEST_RECORD"):
        with open(os.environ["LOADTEST_RECORD"], "w") as out:
            out.writelines(json.dumps(record) + "\n" for record in records)


class SyncStatusAdmin(HttpUser):
    wait_time = between(1, 4)

    def on_start(self):
        username = next(accounts)
        with self.client.get("/accounts/login/", name="login form", catch_response=True) as form:
            match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
            if form.ok and not match:
                form.failure("no CSRF token in the login form")
        if not match:
            raise StopUser()
        with self.client.post(
            "/accounts/login/",
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": match[1],
                "next": PAGE,
            },
            name="login",
            catch_response=True,
        ) as landing:
            let_in = landing.ok and landing.url.endswith(PAGE)
            if let_in:
                self.check_page(landing)
            elif landing.ok:
                landing.failure(f"not let in: landed on {urlsplit(landing.url).path}")
        if not let_in:
            raise StopUser()

    # Within catch_response, an HTTP error is already a failure, with its status:
    # the checks below look into what came with a success.
    def check_page(self, response) -> None:
        if response.ok and "<tbody" not in response.text:
            response.failure("no table of sync steps in the page")

    def page(self, params: list[tuple[str, str]]):
        url = PAGE + ("?" + urlencode(params) if params else "")
        with self.client.get(url, name="page", catch_response=True) as response:
            self.check_page(response)
        return response

    @task(10)
    def first_page(self):
        self.page([])

    @task(8)
    def filtered_page(self):
        self.page(some_filters())

    @task(3)
    def sorted_page(self):
        sort = random.choice(["start", "-end", "end"])
        self.page([("sort", sort), *random.choice([[], some_filters()])])

    @task(4)
    def deeper_pages(self):
        """Next, next, next... as one reads back through the last hours."""
        params = random.choice([[], some_filters()])
        response = self.page(params)
        for number in range(2, 2 + random.randint(1, 5)):
            if 'rel="next"' not in response.text:
                return
            self.wait()
            response = self.page([*params, ("page", str(number))])

    @task(1)
    def far_page(self):
        self.page([("page", str(random.randint(10, 100)))])

    @task(2)
    def export_errors(self):
        params = random.choice([[], some_filters(), [("status", Status.INCOMPLETE)]])
        url = EXPORT + ("?" + urlencode(params) if params else "")
        with self.client.get(url, name="export.csv", catch_response=True) as response:
            if response.ok and not response.text.startswith(EXPORT_HEADER):
                response.failure("the export does not start with its header row")

    @task(2)
    def read_api(self):
        params = random.choice([[], some_filters()])
        url = API + ("?" + urlencode(params) if params else "")
        with self.client.get(url, name="api: sync-steps", catch_response=True) as response:
            if response.ok and "results" not in response.json():
                response.failure("the read API did not answer {results: [...]}")
