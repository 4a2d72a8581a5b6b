"""DjangoStore semantics chatkit's server relies on (plain metadata from ``load_thread``,
upserted items, exclusive cursors, exact item JSON, others' data as missing data), called the
way chatkit's server calls it."""

import time
from datetime import datetime, timedelta
from unittest import mock

import pytest
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    ImageAttachment,
    InferenceOptions,
    SDKHiddenContextItem,
    Thread,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
    Workflow,
    WorkflowItem,
)
from pydantic import AnyUrl

from chatkit_backend import models
from chatkit_backend.attachments import build_attachment
from chatkit_backend.context import Owner, RequestContext
from chatkit_backend.store import DjangoStore
from chatkit_backend.timestamps import aware
from tests.support.queries import captured_statements

pytestmark = pytest.mark.django_db(transaction=True)

BASE = datetime(2026, 1, 1, 12, 0, 0)


@pytest.fixture
def store():
    return DjangoStore()


@pytest.fixture
def alice(django_user_model):
    return RequestContext(owner=Owner(user_id=django_user_model.objects.create(username="a").pk))


@pytest.fixture
def bob(django_user_model):
    return RequestContext(owner=Owner(user_id=django_user_model.objects.create(username="b").pk))


def message(thread_id: str, n: int, *, at: datetime | None = None, text: str | None = None):
    return AssistantMessageItem(
        id=f"msg_{n:04d}",
        thread_id=thread_id,
        created_at=at or BASE + timedelta(seconds=n),
        content=[AssistantMessageContent(text=text or f"answer {n}")],
    )


async def new_thread(store, context, thread_id="thr_1", items=0):
    await store.save_thread(ThreadMetadata(id=thread_id, created_at=BASE), context)
    for n in range(items):
        await store.add_thread_item(thread_id, message(thread_id, n), context)
    return thread_id


async def test_load_thread_returns_plain_metadata_even_after_saving_a_full_thread(store, alice):
    full = Thread(id="thr_x", created_at=BASE, title="T", items={"data": []})
    await store.save_thread(full, alice)
    loaded = await store.load_thread("thr_x", alice)
    assert type(loaded) is ThreadMetadata
    assert loaded.title == "T"


async def test_pagination_in_both_orders_across_pages(store, alice):
    await new_thread(store, alice, items=7)
    ids = [f"msg_{n:04d}" for n in range(7)]
    for order, expected in (("asc", ids), ("desc", ids[::-1])):
        seen, after, pages = [], None, 0
        while True:
            page = await store.load_thread_items("thr_1", after, 3, order, alice)
            pages += 1
            seen += [item.id for item in page.data]
            if not page.has_more:
                assert page.after is None
                break
            assert page.after == page.data[-1].id  # the cursor is the last item returned
            after = page.after
        assert seen == expected
        assert pages == 3


async def test_cursor_is_exclusive(store, alice):
    await new_thread(store, alice, items=5)
    page = await store.load_thread_items("thr_1", "msg_0002", 10, "asc", alice)
    assert [item.id for item in page.data] == ["msg_0003", "msg_0004"]
    page = await store.load_thread_items("thr_1", "msg_0002", 10, "desc", alice)
    assert [item.id for item in page.data] == ["msg_0001", "msg_0000"]


async def test_items_with_equal_timestamps_keep_insertion_order(store, alice):
    await new_thread(store, alice)
    for n in range(4):
        await store.add_thread_item("thr_1", message("thr_1", n, at=BASE), alice)
    first = await store.load_thread_items("thr_1", None, 2, "asc", alice)
    rest = await store.load_thread_items("thr_1", first.after, 2, "asc", alice)
    assert [i.id for i in first.data + rest.data] == [f"msg_{n:04d}" for n in range(4)]


async def test_add_thread_item_is_an_upsert(store, alice):
    await new_thread(store, alice)
    workflow = WorkflowItem(
        id="wf_1",
        thread_id="thr_1",
        created_at=BASE,
        workflow=Workflow(type="reasoning", tasks=[]),
    )
    await store.add_thread_item("thr_1", workflow, alice)
    await store.add_thread_item("thr_1", message("thr_1", 1), alice)
    workflow.workflow.expanded = True
    await store.add_thread_item("thr_1", workflow, alice)  # re-emitted on the next turn
    page = await store.load_thread_items("thr_1", None, 10, "asc", alice)
    assert [item.id for item in page.data] == ["wf_1", "msg_0001"]
    assert page.data[0].workflow.expanded is True


async def test_exact_round_trip_of_the_item_json(store, alice):
    await new_thread(store, alice)
    item = UserMessageItem(
        id="msg_u",
        thread_id="thr_1",
        created_at=datetime(2026, 3, 29, 2, 30, 0, 123456),
        content=[UserMessageTextContent(text="héllo")],
        inference_options=InferenceOptions(),
        quoted_text="quote",
    )
    await store.add_thread_item("thr_1", item, alice)
    assert await store.load_item("thr_1", "msg_u", alice) == item


async def test_hidden_items_are_stored_and_returned_to_the_server(store, alice):
    await new_thread(store, alice)
    hidden = SDKHiddenContextItem(id="shcx_1", thread_id="thr_1", created_at=BASE, content="x")
    await store.add_thread_item("thr_1", hidden, alice)
    page = await store.load_thread_items("thr_1", None, 10, "asc", alice)
    assert [item.id for item in page.data] == ["shcx_1"]  # the model must see it


async def test_threads_list_pages_in_both_orders(store, alice):
    for n in range(5):
        await store.save_thread(
            ThreadMetadata(id=f"thr_{n}", created_at=BASE + timedelta(minutes=n)), alice
        )
    page = await store.load_threads(2, None, "desc", alice)
    assert [t.id for t in page.data] == ["thr_4", "thr_3"] and page.has_more
    page = await store.load_threads(2, page.after, "desc", alice)
    assert [t.id for t in page.data] == ["thr_2", "thr_1"]
    page = await store.load_threads(10, "thr_1", "asc", alice)
    assert [t.id for t in page.data] == ["thr_2", "thr_3", "thr_4"] and not page.has_more


async def test_someone_elses_data_behaves_exactly_like_missing_data(store, alice, bob):
    await new_thread(store, alice, items=2)

    def calls(t):  # every store call, aimed at thread ``t``
        return [
            lambda c: store.load_thread(t, c),
            lambda c: store.load_item(t, "msg_0000", c),
            lambda c: store.add_thread_item(t, message(t, 9), c),
            lambda c: store.save_item(t, message(t, 0, text="hijacked"), c),
            lambda c: store.delete_thread_item(t, "msg_0000", c),
            lambda c: store.delete_thread(t, c),
            lambda c: store.set_feedback(t, ["msg_0000"], "negative", c),
            lambda c: store.save_thread(ThreadMetadata(id=t, created_at=BASE, title="x"), c),
            lambda c: store.load_threads(10, t, "desc", c),
        ]

    for index, (theirs, missing) in enumerate(
        zip(calls("thr_1"), calls("thr_missing"), strict=True)
    ):
        with pytest.raises(NotFoundError) as by_bob:
            await theirs(bob)
        if index == 7:
            continue  # saving a new thread id is how threads get created
        with pytest.raises(NotFoundError) as on_missing:
            await missing(alice)
        assert str(by_bob.value).replace("thr_1", "X") == str(on_missing.value).replace(
            "thr_missing", "X"
        )
    assert (await store.load_threads(10, None, "desc", bob)).data == []
    page = await store.load_thread_items("thr_1", None, 10, "asc", alice)
    assert [i.content[0].text for i in page.data] == ["answer 0", "answer 1"]
    assert (await store.load_thread("thr_1", alice)).title is None
    assert not await models.ThreadItem.objects.filter(feedback__isnull=False).aexists()


async def test_deleting_the_owner_deletes_their_threads(store, alice, django_user_model):
    await new_thread(store, alice, items=1)
    await django_user_model.objects.filter(pk=alice.owner.user_id).adelete()
    assert not await models.Thread.objects.filter(id="thr_1").aexists()
    assert not await models.ThreadItem.objects.filter(thread_id="thr_1").aexists()


def test_query_count_is_constant_whatever_the_thread_length(django_user_model, monkeypatch):
    from asgiref.sync import async_to_sync

    store = DjangoStore()
    context = RequestContext(owner=Owner(user_id=django_user_model.objects.create(username="q").pk))
    counts = {}
    for size in (5, 200):
        thread_id = f"thr_{size}"
        async_to_sync(store.save_thread)(ThreadMetadata(id=thread_id, created_at=BASE), context)
        for n in range(size):
            models.ThreadItem.objects.create(
                thread_id=thread_id,
                item_id=f"msg_{n:04d}",
                type="assistant_message",
                created_at=aware(BASE + timedelta(seconds=n)),
                data=message(thread_id, n).model_dump(mode="json"),
            )
        with captured_statements(monkeypatch) as captured:  # in every thread: the store's pool
            async_to_sync(store.load_thread_items)(thread_id, "msg_0003", 20, "asc", context)
            async_to_sync(store.load_thread_items)(thread_id, None, 20, "desc", context)
            async_to_sync(store.add_thread_item)(thread_id, message(thread_id, 999), context)
            async_to_sync(store.load_item)(thread_id, "msg_0001", context)
        counts[size] = len(captured)
    assert counts[5] == counts[200]
    assert 0 < counts[5] <= 12


# -- the SDK's Store contract: what code written against chatkit's Store expects ----------------


async def test_items_of_a_thread_the_caller_may_not_see_are_an_empty_page(store, alice, bob):
    await new_thread(store, alice, items=2)
    for context, thread_id, after in [
        (bob, "thr_1", None),
        (bob, "thr_1", "msg_0000"),
        (alice, "thr_missing", None),
        (alice, "thr_missing", "msg_0000"),
    ]:
        page = await store.load_thread_items(thread_id, after, 10, "asc", context)
        assert (page.data, page.has_more, page.after) == ([], False, None)
    # A cursor that is not in the caller's own thread is still an error.
    with pytest.raises(NotFoundError):
        await store.load_thread_items("thr_1", "msg_missing", 10, "asc", alice)
    page = await store.load_thread_items("thr_1", "msg_0000", 10, "asc", alice)
    assert [item.id for item in page.data] == ["msg_0001"]


async def test_deleting_an_attachment_that_does_not_exist_is_a_no_op(store, alice, bob):
    file = FileAttachment(id="atc_1", name="notes.txt", mime_type="text/plain")
    await store.save_attachment(file, alice)
    await store.delete_attachment("atc_missing", alice)
    await store.delete_attachment("atc_1", bob)  # someone else's: nothing happens either
    assert await store.load_attachment("atc_1", alice) == file
    await store.delete_attachment("atc_1", alice)
    assert not await models.Attachment.objects.filter(id="atc_1").aexists()
    await store.delete_attachment("atc_1", alice)  # twice is fine


async def test_load_attachment_returns_what_was_saved(store, alice):
    file = FileAttachment(
        id="atc_file", name="test.txt", mime_type="text/plain", metadata={"source": "test"}
    )
    image = ImageAttachment(
        id="atc_image",
        name="chart.png",
        mime_type="image/png",
        preview_url=AnyUrl("https://cdn.example.com/chart.png"),
        metadata={"source": "server code"},
    )
    for attachment in (file, image):
        await store.save_attachment(attachment, alice)
        assert await store.load_attachment(attachment.id, alice) == attachment
    # ...and an item carrying the image gives it back unchanged too.
    thread_id = await new_thread(store, alice)
    item = UserMessageItem(
        id="msg_u",
        thread_id=thread_id,
        created_at=BASE,
        content=[UserMessageTextContent(text="Here")],
        attachments=[image],
        inference_options=InferenceOptions(),
    )
    await store.add_thread_item(thread_id, item, alice)
    assert (await store.load_item(thread_id, "msg_u", alice)).attachments == [image]


async def test_our_own_previews_are_signed_afresh(store, alice):
    """An image whose bytes we hold has a preview URL that expires: each read signs it anew."""
    image = build_attachment("atc_ours", "photo.png", "image/png", alice)
    await store.save_attachment(image, alice)
    stale = str(image.preview_url)
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 60):
        fresh = str((await store.load_attachment("atc_ours", alice)).preview_url)
    assert fresh != stale
    assert fresh.split("?")[0] == stale.split("?")[0]


# -- saves of a known thread are field updates that never recreate it ----------------------------


async def test_a_save_after_a_load_never_recreates_a_deleted_thread(store, alice):
    thread_id = await new_thread(store, alice)
    request = RequestContext(owner=alice.owner)  # a later request, say threads.update
    thread = await store.load_thread(thread_id, request)
    await models.Thread.objects.filter(id=thread_id).adelete()
    thread.title = "Renamed"
    with pytest.raises(NotFoundError):
        await store.save_thread(thread, request)
    assert not await models.Thread.objects.filter(id=thread_id).aexists()


async def test_a_save_writes_only_the_fields_it_changed(store, alice):
    thread_id = await new_thread(store, alice)
    request = RequestContext(owner=alice.owner)
    thread = await store.load_thread(thread_id, request)
    # Meanwhile an operator closes the thread and tags it.
    await models.Thread.objects.filter(id=thread_id).aupdate(
        status={"type": "closed"}, metadata={"tag": "vip"}
    )
    thread.title = "Renamed"
    await store.save_thread(thread, request)
    row = await models.Thread.objects.aget(id=thread_id)
    assert (row.title, row.status, row.metadata) == ("Renamed", {"type": "closed"}, {"tag": "vip"})


async def test_within_a_turn_a_change_made_meanwhile_wins(store, alice):
    thread_id = await new_thread(store, alice)
    request = RequestContext(owner=alice.owner)
    turn = await store.begin_turn(thread_id, request)
    thread = await store.load_thread(thread_id, request)
    await models.Thread.objects.filter(id=thread_id).aupdate(
        title="The owner's", status={"type": "locked", "reason": "review"}
    )
    thread.title = "The turn's"
    thread.metadata = {"step": 2}
    await store.save_thread(thread, request)
    row = await models.Thread.objects.aget(id=thread_id)
    assert (row.title, row.status["type"], row.metadata) == ("The owner's", "locked", {"step": 2})
    assert thread.title == "The owner's"  # what the client is told
    await store.end_turn(turn, request)
    row = await models.Thread.objects.aget(id=thread_id)
    assert (row.turn_lease, row.turn_lease_until) == ("", None)
