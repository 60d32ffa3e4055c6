"""The lexical pieces of a host name (pure: regular expressions only), for every place that reads one: settings
(INFLUENCERS_HOST, --host), ingest's fetch rules (netguard) and the page's look-alike check (host_doubts)."""

from __future__ import annotations

import re

# One label of a host name: 1 to 63 letters, digits, `-` or `_` (service names in docker-compose and Kubernetes
# carry `_`), neither first nor last a `-`.
HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?", re.ASCII)
# What resolvers read as part of an IPv4 address: a decimal or hexadecimal number (`127.1`, `0x7f.0.0.1`).
NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*", re.ASCII)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"  # decimal 0-255, no leading zero (0177 is octal to some)
DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}", re.ASCII)
# The full stops UTS 46 reads between labels: ASCII, ideographic, full-width and half-width ideographic; the second
# keeps them in re.split, to put a host back together label by label.
FULL_STOPS = re.compile("[.\u3002\uff0e\uff61]")
FULL_STOPS_KEPT = re.compile("([.\u3002\uff0e\uff61])")
A_LABEL = re.compile(r"(?:^|[.\u3002\uff0e\uff61])xn--", re.IGNORECASE)  # a label in IDNA's ASCII form
