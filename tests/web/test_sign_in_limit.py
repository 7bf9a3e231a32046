"""The sign-in limit holds however many attempts arrive at once, from any address."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.web.test_pages import csrf_token

PARALLEL = 30


def test_thirty_wrong_sign_ins_at_once_are_compared_five_times(app):
    clients = [app.test_client() for _ in range(PARALLEL)]
    tokens = [csrf_token(c) for c in clients]
    start, answers = threading.Barrier(PARALLEL), []

    def attempt(client, token):
        start.wait()
        answers.append(client.post("/login", data={"token": "wrong", "csrf_token": token})
                       .status_code)

    threads = [threading.Thread(target=attempt, args=pair)
               for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(answers) == {403: 5, 429: PARALLEL - 5}
    right = clients[0].post("/login", data={"token": ADMIN_TOKEN, "csrf_token": tokens[0]})
    assert right.status_code == 429  # the limit holds for the right token too


@pytest.mark.parametrize("address", ["x" * 101, "2001:db8::" + "f" * 200])
def test_an_address_longer_than_the_column_is_counted(client, address):
    token = csrf_token(client)

    def sign_in(address: str, secret: str = "wrong") -> int:
        return client.post("/login", data={"token": secret, "csrf_token": token},
                           environ_base={"REMOTE_ADDR": address}).status_code

    assert [sign_in(address) for _ in range(6)] == [403] * 5 + [429]
    assert sign_in(address, ADMIN_TOKEN) == 429
    assert sign_in(address[:100] + "other", ADMIN_TOKEN) == 302  # not another long address
