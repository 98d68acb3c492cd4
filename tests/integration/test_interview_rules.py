"""One home for each interview rule: the workflow's actions and the answer validator, as the web
pages, the sync API and field mode's schema all see them."""

from tests.integration.helpers import interview_of
from tests.integration.test_sync_api import Device


def _pulled(phone, child_id):
    changes = phone.pull().json["changes"]
    return next(c for c in changes if c["record_id"] == interview_of(child_id).id)["payload"]


def test_sync_payload_carries_the_actions_this_user_may_take(as_user, ids):
    phone = Device(as_user("worker@demo.test"))
    kai = _pulled(phone, ids["kai"])
    assert kai["status"] == "allocated" and kai["status_label"] == "Allocated"
    assert kai["actions"] == [
        {"action": "edit", "label": "Save answers"},
        {"action": "submit", "label": "Send for authorisation"},
    ]
    ruby = _pulled(phone, ids["ruby"])  # sent for authorisation: nothing left for the worker
    assert ruby["status_label"] == "Awaiting authorisation" and ruby["actions"] == []


def test_show_page_offers_what_the_workflow_allows(as_user, ids):
    manager = as_user("manager@demo.test")
    page = manager.get(f"/interviews/{interview_of(ids['ruby']).id}").get_data(as_text=True)
    assert "Authorise" in page and "Send back for changes" in page
    assert "Send for authorisation" not in page
    page = manager.get(f"/interviews/{interview_of(ids['kai']).id}").get_data(as_text=True)
    assert 'value="authorise"' not in page and "Reallocate" in page
