import pytest
from agents.testing import assistant_message

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_and_continue(chatkit_client, model):
    model.extend([[assistant_message("Hello there")], [assistant_message("Second answer")]])
    first = chatkit_client.create_thread("Hi, who are you?")
    assert first.errors == []
    assert first.assistant_text == "Hello there"
    second = chatkit_client.send(first.thread_id, "And again")
    assert second.assistant_text == "Second answer"
    page = chatkit_client.list_items(first.thread_id, order="asc")
    assert [item.type for item in page.data] == [
        "user_message",
        "assistant_message",
        "user_message",
        "assistant_message",
    ]
    thread = chatkit_client.get_thread(first.thread_id)
    assert thread.title == "Hi, who are you?"


@pytest.mark.django_db(transaction=False)
def test_turns_work_inside_a_test_transaction(chatkit_client, model):
    """Users' own suites often run each test in a transaction (TestCase, plain django_db)."""
    model.extend([[assistant_message("one")], [assistant_message("two")]])
    thread_id = chatkit_client.create_thread("first").thread_id
    assert chatkit_client.send(thread_id, "second").assistant_text == "two"
    assert len(chatkit_client.list_items(thread_id).data) == 4
