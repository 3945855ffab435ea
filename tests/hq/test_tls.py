"""HQ over https: the till verifies HQ's certificate by default, trusts a private CA only
when told to (hq.ca_file), and says so in one sentence when it does not."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from pos_loyalty import config as config_mod
from pos_loyalty.errors import ConfigError
from sync.daemon import Syncer, SyncStopped

from .conftest import Served


@pytest.fixture
def https_hq(hq, tmp_path: Path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    key_file, cert_file = tmp_path / "hq.key", tmp_path / "hq.pem"
    cert.private_key_pem.write_to_path(str(key_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with Served(hq.store, ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as served:
        yield f"https://127.0.0.1:{served.port}", ca_file


def with_ca(till, ca_file: str):
    path = till.source.path
    text = path.read_text()
    start = text.index("ca_file = ")
    end = text.index("\n", start)
    path.write_text(text[:start] + f'ca_file = "{ca_file}"' + text[end:])
    return config_mod.load(str(path))


def test_a_certificate_the_till_does_not_trust_stops_the_sync(make_synced_till, https_hq):
    base, _ = https_hq
    till, token = make_synced_till(url=base)
    till.enroll("0612345678")
    with Syncer(till.source, token=token) as syncer, pytest.raises(SyncStopped) as stopped:
        syncer.push()
    assert stopped.value.message.startswith("HQ's TLS certificate is not trusted by this till")
    assert till.queue().acked_seq == 0


def test_a_private_ca_named_in_the_config_is_trusted(make_synced_till, https_hq, hq):
    base, ca_file = https_hq
    till, token = make_synced_till(url=base)
    till.enroll("0612345678")
    with Syncer(with_ca(till, str(ca_file)), token=token) as syncer:
        assert syncer.push().acked_seq == 2
    assert hq.store.event_count() == 2


def test_a_ca_file_that_is_not_one_is_refused_plainly(make_synced_till, https_hq, tmp_path):
    base, _ = https_hq
    till, token = make_synced_till(url=base)
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    for name in ("junk.pem", "missing.pem"):
        with pytest.raises(ConfigError, match="hq.ca_file: .* is not a readable CA bundle"):
            Syncer(with_ca(till, str(tmp_path / name)), token=token)
