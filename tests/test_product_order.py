"""Online orders (process ``product_order``) on real parts: the engine and its worker calls, the database, the
decision table, an SMTP server on loopback, and the license renewal that takes the new license over.

Orders below the tier's limit (standard 1000, premium 5000) create or upgrade the license at once;
larger ones wait for sales, never for the one who placed them; a declined order creates nothing;
bad input is refused field by field and starts nothing.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.clock import VirtualClock
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from engine.errors import Unprocessable
from engine.models import Contact, CustomerStatus, ProcessInstance
from engine.runtime import StartRequest
from engine.tasks import TaskFilter
from process_library import orders
from process_library.csv_import import CsvImportError, import_csv
from process_library.registry import REGISTRY, OperationContext
from process_library.self_service import Refused, catalog, place_order
from process_library.store import CatalogItem, Customer, License, Order
from tests.conftest import source
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)

SAMPLE = PROJECT_ROOT / "process_library" / "sample"
FILES = ("product_order.bpmn", "product_order.de.po", "product_order.cs.po", "order_approval.dmn")
RENEWAL = ("license_sweep.bpmn", "license_renewal.bpmn")


@pytest.fixture
def care(database_url, smtp_server):  # noqa: F811
    settings = Settings.from_env(
        database_url=database_url,
        processes_dir=PROJECT_ROOT / "processes",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        mail_from="care@care.example.com",
    )
    engine = CareEngine(settings, clock=VirtualClock())
    engine.repository.deploy([source(name) for name in FILES], "test", "test")
    engine.identity.add_group("sales")
    for name in ("sam", "sue"):
        engine.identity.add_user(name, "staff", ["sales"], password="correct horse battery")
    now = engine.clock.now()
    with engine.db.write() as session:
        session.add(Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="standard", language="en"))
        session.add(Customer(id="C-2", name="Bert Brecht", email="bert@example.com", tier="premium", language="cs"))
        session.flush()
        session.add(
            License(
                id="L-1",
                customer_id="C-1",
                product="carestation",
                level="basic",
                valid_until=now + timedelta(days=200),
                status="active",
            )
        )
    result = import_csv(engine.db, "catalog", (SAMPLE / "catalog.csv").read_text(encoding="utf-8"))
    assert (result.created, result.updated) == (9, 0)
    yield engine
    engine.close()


def run(care) -> None:
    care.jobs.run_due("test")


def licenses(care, customer_id: str) -> list[License]:
    with care.db.read() as session:
        query = select(License).where(License.customer_id == customer_id).order_by(License.id)
        return list(session.scalars(query))


def order_of(care, instance_id: int) -> Order:
    with care.db.read() as session:
        return session.scalar(select(Order).where(Order.instance_id == instance_id))


def open_task(care, instance_id: int) -> dict | None:
    tasks = care.tasks.list(TaskFilter(instance_id=instance_id), limit=10, after=None).items
    return tasks[0] if tasks else None


def count(care, model) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("customer_id", "item", "quantity", "channel", "problems"),
    [
        ("C-404", "P-TILL-BASIC", 1, "web", {"customer": "No customer has this customer number."}),
        ("C-1", "P-NOPE", 1, "web", {"item": orders.UNKNOWN_ITEM}),
        ("C-1", "", 1, "web", {"item": orders.UNKNOWN_ITEM}),
        ("C-1", "P-TILL-BASIC", 0, "web", {"quantity": orders.BAD_QUANTITY}),
        ("C-1", "P-TILL-BASIC", 11, "web", {"quantity": orders.BAD_QUANTITY}),
        ("C-1", "P-TILL-BASIC", "2", "web", {"quantity": orders.BAD_QUANTITY}),
        ("C-1", "P-TILL-BASIC", True, "web", {"quantity": orders.BAD_QUANTITY}),
        ("C-1", "U-CS-PRO", 2, "web", {"quantity": orders.UPGRADE_ONCE}),
        ("C-1", "P-CS-PRO", 1, "web", {"item": orders.LICENSED_ALREADY}),
        ("C-2", "A-CS-ANALYTICS", 1, "web", {"item": orders.NEEDS_BASE}),
        ("C-2", "U-CS-PRO", 1, "web", {"item": orders.NOTHING_TO_UPGRADE}),
        ("C-1", "P-TILL-BASIC", 1, "pigeon", {"channel": "Choose one of the options."}),
    ],
)
def test_bad_orders_are_refused_field_by_field_and_start_nothing(care, customer_id, item, quantity, channel, problems):
    with pytest.raises(Refused) as refused:
        place_order(care, customer_id, item, quantity, channel)
    assert refused.value.problems == problems
    assert (count(care, ProcessInstance), count(care, Order), count(care, Contact)) == (0, 0, 0)


def test_an_upgrade_to_the_level_held_is_refused(care):
    with care.db.write() as session:
        session.get(License, "L-1").level = "enterprise"
    with pytest.raises(Refused) as refused:
        place_order(care, "C-1", "U-CS-PRO", 1)
    assert refused.value.problems == {"item": orders.HIGH_ENOUGH}


def test_a_small_order_creates_the_license_at_once_and_is_confirmed(care, smtp_server):  # noqa: F811
    started = place_order(care, "C-1", "P-TILL-BASIC", 2, "web")
    run(care)
    order = order_of(care, started.instance_id)
    assert (order.status, order.amount, order.currency, order.decided_by) == (
        "fulfilled",
        Decimal("580.00"),
        "EUR",
        None,
    )
    [_, till] = licenses(care, "C-1")
    assert (till.id, till.product, till.level, till.status) == (order.license_id, "till", "basic", "active")
    assert till.valid_until == care.clock.now().replace(year=care.clock.now().year + 2)
    [sent] = smtp_server.messages
    assert sent["To"] == "ada@example.com" and sent["Subject"] == f"Thank you for your order [{started.reference}]"
    assert "2 × Till basic license (12 months), 580.00 EUR" in sent.get_content()
    assert f"license {till.id} (level basic) is valid until {till.valid_until.date()}" in sent.get_content()
    assert care.runtime.get(started.instance_id, with_data=False)["status"] == "completed"
    with care.db.read() as session:
        [inbound] = session.scalars(select(Contact).where(Contact.direction == "in"))
    assert (inbound.channel, inbound.subject, inbound.instance_id) == (
        "web",
        "Order: Till basic license (12 months)",
        started.instance_id,
    )


def test_a_large_order_waits_for_sales_but_not_for_who_placed_it(care, smtp_server):  # noqa: F811
    started = place_order(care, "C-1", "U-CS-ENTERPRISE", 1, "phone", requested_by="sam")
    run(care)
    task = open_task(care, started.instance_id)
    assert (task["name"], task["candidate_groups"]) == ("Approve the order", ["sales"])
    form = care.tasks.form(task["id"])["data"]
    assert (form["review_amount"], form["review_tier"], form["review_requested_by"]) == (
        "2400.00 EUR",
        "standard",
        "sam",
    )
    until = (care.clock.now() + timedelta(days=200)).date().isoformat()
    assert form["review_licenses"] == (
        f"carestation basic, valid until {until} (L-1) → carestation enterprise, valid until {until} (L-1)"
    )
    assert smtp_server.messages == [] and licenses(care, "C-1")[0].level == "basic"

    with pytest.raises(Unprocessable, match="not for sam"):
        care.tasks.complete(task["id"], {"decision": "approve"}, "sam")
    care.tasks.complete(task["id"], {"decision": "approve"}, "sue")
    run(care)
    [license_] = licenses(care, "C-1")
    assert (license_.id, license_.level) == ("L-1", "enterprise")
    order = order_of(care, started.instance_id)
    assert (order.status, order.decided_by, order.requested_by, order.license_id) == ("fulfilled", "sue", "sam", "L-1")
    [sent] = smtp_server.messages
    assert "is now at level enterprise" in sent.get_content()


def test_a_declined_order_creates_nothing_and_the_customer_reads_why(care, smtp_server):  # noqa: F811
    started = place_order(care, "C-2", "P-CS-PRO", 4)  # 5960 EUR: above a premium customer's 5000
    run(care)
    task = open_task(care, started.instance_id)
    care.tasks.complete(task["id"], {"decision": "reject", "reason": "At most three years ahead."}, "sue")
    run(care)
    order = order_of(care, started.instance_id)
    assert (order.status, order.reason, order.decided_by, order.license_id) == (
        "rejected",
        "At most three years ahead.",
        "sue",
        None,
    )
    assert licenses(care, "C-2") == []
    [sent] = smtp_server.messages
    assert sent["Subject"].startswith("Vaši objednávku jsme nepřijali") and "Důvod: At most three years ahead." in (
        sent.get_content()
    )


@pytest.mark.parametrize(
    ("tier", "amount", "approval"),
    [("standard", 1000, False), ("standard", 1000.01, True), ("premium", 5000, False), ("premium", 5001, True)],
)
def test_the_decision_table_sets_the_limits_by_tier(care, tier, amount, approval):
    with care.db.write() as session:
        session.get(Customer, "C-2").tier = tier
        session.add(
            CatalogItem(
                id="X-1",
                name="Exactly",
                kind="license",
                product="x",
                level="basic",
                price=Decimal(str(amount)),
                currency="EUR",
                term_months=12,
            )
        )
    started = place_order(care, "C-2", "X-1", 1)
    run(care)
    assert (open_task(care, started.instance_id) is not None) is approval


def test_license_renewal_takes_over_the_license_an_order_created(care, smtp_server):  # noqa: F811
    care.repository.deploy([source(name) for name in RENEWAL], "test", "test")
    started = place_order(care, "C-2", "P-TILL-PRO", 1)
    run(care)
    new_license = order_of(care, started.instance_id).license_id
    care.clock.advance(timedelta(days=300))  # the license ends in about 65 days: not due yet
    sweep, _ = care.runtime.start(StartRequest("license_sweep", {}), "test")
    run(care)
    swept = [found["id"] for found in care.runtime.get(sweep["id"])["data"]["licenses"]]
    assert swept == ["L-1"]  # Ada's license ended, unrenewed; the new one is not due
    care.clock.advance(timedelta(days=40))  # now it ends within 30 days
    sweep, _ = care.runtime.start(StartRequest("license_sweep", {}), "test")
    run(care)
    with care.db.read() as session:
        query = select(ProcessInstance.id).where(ProcessInstance.process_key == "license_renewal")
        renewal_ids = list(session.scalars(query))
    renewals = [care.runtime.get(instance_id)["data"] for instance_id in renewal_ids]
    assert [(r["license_id"], r["customer_id"], r["product"]) for r in renewals] == [
        ("L-1", "C-1", "carestation"),
        (new_license, "C-2", "till"),
    ]
    assert [lic.status for lic in licenses(care, "C-2")] == ["renewing"]
    # started by the sweep's message, each renewal is filed under the customer its customer_variable names
    assert [care.runtime.get(instance_id)["customer_id"] for instance_id in renewal_ids] == ["C-1", "C-2"]
    with care.db.read() as session:
        statuses = session.scalars(select(CustomerStatus).where(CustomerStatus.instance_id.in_(renewal_ids)))
        assert sorted(status.customer_id for status in statuses) == ["C-1", "C-2"]
    linked = [e.details for e in care.history.of_instance(renewal_ids[1], None) if e.event_type == "customer_linked"]
    assert linked == [{"customer_id": "C-2", "variable": "customer_id"}]


def test_the_operations_change_the_store_once_when_called_again(care):
    started = place_order(care, "C-2", "P-TILL-BASIC", 1)
    context = OperationContext(
        idempotency_key=f"cc-{started.instance_id}-again-1",
        instance_id=started.instance_id,
        process_key="product_order",
        element_id="again",
        tracking_code=started.tracking_code,
        reference=started.reference,
        db=care.db,
        clock=care.clock,
        settings=care.settings,
    )
    arguments = {"customer_id": "C-2", "item_id": "P-TILL-BASIC", "quantity": 1, "requested_by": "customer:C-2"}
    checked = [REGISTRY.get("check_order").call(context, arguments) for _ in range(2)]
    assert checked[0]["order_id"] == checked[1]["order_id"] and count(care, Order) == 1
    fulfil = REGISTRY.get("fulfil_order")
    fulfilled = [fulfil.call(context, {"order_id": checked[0]["order_id"]}) for _ in range(2)]
    assert fulfilled[0]["license"] == fulfilled[1]["license"]
    assert [lic.product for lic in licenses(care, "C-2")] == ["till"]


def test_a_resubmitted_order_form_starts_one_order(care):
    first = place_order(care, "C-2", "P-TILL-BASIC", 1, submission_id="order-form-7")
    again = place_order(care, "C-2", "P-TILL-BASIC", 1, submission_id="order-form-7")
    assert (again.instance_id, again.created) == (first.instance_id, False) and count(care, ProcessInstance) == 1


def test_the_catalog_lists_the_sample_and_refuses_a_bad_file_whole(care):
    items = catalog(care)
    assert len(items) == 9 and [item["kind"] for item in items] == sorted(item["kind"] for item in items)
    assert {item["kind"] for item in items} == {"license", "addon", "upgrade"}
    assert next(i for i in items if i["id"] == "U-CS-PRO")["price"] == "600.00"
    bad = "id,name,kind,product,level,price\nX-1,Ok,license,x,basic,10.00\nX-2,Bad,gift,x,basic,-1\n"
    with pytest.raises(CsvImportError) as refused:
        import_csv(care.db, "catalog", bad)
    assert [str(p) for p in refused.value.problems] == [
        "line 3: kind: 'gift' is not one of license, addon, upgrade",
        "line 3: price: '-1' is not a price such as 490.00 (at most two decimals, not negative)",
    ]
    with care.db.read() as session:
        assert session.get(CatalogItem, "X-1") is None
