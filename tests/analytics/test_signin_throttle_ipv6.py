"""The sign-in throttle counts an IPv6 client by its /64, the block one subscriber or host is given: counted by
its whole address, a client rotating through the addresses of its own /64 (2^64 of them, picked at will) had ten
guesses from each."""

from __future__ import annotations

import re

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.throttle import client_key


def test_guesses_from_the_addresses_of_one_ipv6_64_are_throttled_as_one_client(
        analytics_empty_store: AnalyticsStore) -> None:
    client = create_app(analytics_empty_store, {"TOKEN": "s3cret", "HOST": "::", "ALLOWED_HOSTS": ["report.example"]}
                        ).test_client()
    form = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin", headers={"Host": "report.example"},
                     environ_base={"REMOTE_ADDR": "2001:db8:1:2::1"}).get_data(as_text=True))
    assert form is not None
    statuses = [client.post("/signin", data={"csrf_token": form.group(1), "token": f"guess{n}"},
                            headers={"Host": "report.example"},
                            environ_base={"REMOTE_ADDR": f"2001:db8:1:2:{n:x}::{n + 1:x}"}).status_code
                for n in range(12)]
    assert statuses == [401] * 10 + [429] * 2
    other = client.get("/api/videos.json", headers={"Host": "report.example", "Authorization": "Bearer s3cret"},
                       environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert other.status_code == 200, "another /64 is another client"


def test_the_key_of_an_address_is_its_ipv4_address_or_its_ipv6_64() -> None:
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7", "an IPv4 client seen through an IPv6 socket"
    assert client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("not an address") == "not an address"
