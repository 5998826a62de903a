"""TLS and bearer tokens: with them, only a client that trusts the certificate and sends the token
is answered; health stays open for probes unless asked otherwise.

The certificates are made here, self-signed for 127.0.0.1, with ``cryptography``.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import grpc
import numpy as np
import pytest

from support.cli import export_arrays
from support.photos import photo_bytes

TOKEN = "s3cret-token_for.tests~0123456789"


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    pytest.importorskip("cryptography")
    directory = tmp_path_factory.mktemp("certs")
    return {"server": _self_signed(directory, "server"), "stranger": _self_signed(directory, "stranger")}


@pytest.fixture(scope="module")
def token_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


# -- TLS -----------------------------------------------------------------------------------------


def test_tls_answers_only_clients_that_trust_the_certificate(start_server, small_index, certs):
    from latentspace import client as ls
    from latentspace.client import Client

    cert, key = certs["server"]
    running = start_server(small_index, tls_cert=cert, tls_key=key)
    with Client(running.address, ca=cert) as client:
        assert client.info().item_count == 12
        assert len(client.search(photo_bytes(1), k=3).hits) == 3
        assert client.health() == "SERVING"
    for ca in (None, certs["stranger"][0]):  # plaintext, or TLS with another authority
        with Client(running.address, ca=ca, timeout=5) as client, pytest.raises(ls.Unavailable):
            client.info()


# -- bearer tokens -------------------------------------------------------------------------------


def test_calls_without_the_token_are_unauthenticated_and_change_nothing(start_server, small_index, token_file,
                                                                        tmp_path):
    from latentspace import client as ls
    from latentspace.client import Client, NewImage

    running = start_server(small_index, token_file=token_file)
    before = export_arrays(small_index, tmp_path / "before.npz")
    for kwargs, words in (({}, "needs a bearer token"), ({"token": "wrong"}, "not valid"),
                          ({"token": TOKEN[:-1]}, "not valid"), ({"token": TOKEN + "x"}, "not valid")):
        with Client(running.address, **kwargs) as client:
            for call in (client.info, lambda: client.search(item_id=1, k=2),
                         lambda: client.add_images([NewImage(photo_bytes(5), "in.png")]), lambda: client.remove([1])):
                with pytest.raises(ls.Unauthenticated) as caught:
                    call()
                assert words in caught.value.message
            assert client.health() == "SERVING", "health stays open for probes"
    after = export_arrays(small_index, tmp_path / "after.npz")
    np.testing.assert_array_equal(after["ids"], before["ids"])
    assert not (small_index / "images").exists()

    with Client(running.address, token_file=token_file) as client:
        assert client.info().item_count == 12
        [added] = client.add_images([NewImage(photo_bytes(5), "in.png")])
        assert client.search(photo_bytes(5), k=1).ids == [added.id]


def test_token_metadata_must_be_exact(start_server, small_index, token_file):
    from latentspace.proto.v1 import latentspace_pb2 as pb

    running = start_server(small_index, token_file=token_file)
    request = pb.InfoRequest().SerializeToString()
    with grpc.insecure_channel(running.address) as channel:
        info = channel.unary_unary("/latentspace.v1.LatentSpace/Info")
        for metadata in ((("authorization", f"bearer {TOKEN}"),), (("authorization", TOKEN),),
                         (("authorization", f"Bearer  {TOKEN}"),),
                         (("authorization", f"Bearer {TOKEN}"), ("authorization", f"Bearer {TOKEN}")),
                         (("x-authorization", f"Bearer {TOKEN}"),)):
            with pytest.raises(grpc.RpcError) as caught:
                info(request, metadata=metadata, timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, metadata
        assert pb.InfoResponse.FromString(info(request, metadata=(("authorization", f"Bearer {TOKEN}"),),
                                               timeout=10)).item_count == 12
        # Reflection describes the service, so it needs the token too.
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                              timeout=10)
        with pytest.raises(grpc.RpcError) as caught:
            list(responses)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_token_is_compared_in_constant_time(start_server, small_index, token_file, monkeypatch):
    from latentspace.client import Client
    from latentspace.server.rpc import auth

    compared = []
    real = auth.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    running = start_server(small_index, token_file=token_file)
    with Client(running.address, token=TOKEN) as client:
        client.info()
    assert (f"Bearer {TOKEN}".encode(), f"Bearer {TOKEN}".encode()) in compared


def test_health_can_need_the_token_too(start_server, small_index, token_file):
    from latentspace import client as ls
    from latentspace.client import Client

    running = start_server(small_index, token_file=token_file, token_for_health=True)
    with Client(running.address) as client, pytest.raises(ls.Unauthenticated):
        client.health()
    with Client(running.address, token=TOKEN) as client:
        assert client.health() == "SERVING"


@pytest.mark.parametrize(("content", "words"), [(b"", "is empty"), (b"two words\n", "printable ASCII, no spaces"),
                                                (b"caf\xc3\xa9", "not ASCII")])
def test_a_bad_token_file_stops_serve_before_loading_anything(content, words, small_index, tmp_path, capsys):
    from latentspace.cli.main import main

    bad = tmp_path / "token"
    bad.write_bytes(content)
    assert main(["serve", str(small_index), "--port", "0", "--token-file", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("latentspace serve: error: token file") and words in err and str(bad) in err


def test_tls_needs_both_files(small_index, certs, tmp_path, capsys):
    from latentspace.cli.main import main

    cert, _ = certs["server"]
    assert main(["serve", str(small_index), "--port", "0", "--tls-cert", str(cert)]) == 2
    assert "both a certificate and its key" in capsys.readouterr().err
    not_pem = tmp_path / "key.pem"
    not_pem.write_text("not a key")
    assert main(["serve", str(small_index), "--port", "0", "--tls-cert", str(cert), "--tls-key", str(not_pem)]) == 1
    assert "is not a PEM file" in capsys.readouterr().err


# -- the command line, end to end ----------------------------------------------------------------


def test_cli_with_tls_and_a_token(serve_process, small_index, certs, token_file, capsys):
    import json

    from latentspace.cli.main import main

    cert, key = certs["server"]
    child = serve_process(small_index, "--weights", "random:0", "--tls-cert", str(cert), "--tls-key", str(key),
                          "--token-file", str(token_file))
    base = ["--server", child.address, "--ca", str(cert)]
    assert main(["info", *base, "--token-file", str(token_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["item_count"] == 12
    assert main(["search", "--id", "1", "-k", "2", *base, "--token-file", str(token_file), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hits"]) == 2
    assert main(["info", *base]) == 1
    assert "unauthenticated: this server needs a bearer token" in capsys.readouterr().err
    assert main(["info", "--server", child.address, "--token-file", str(token_file), "--timeout", "5"]) == 1
    assert "unavailable" in capsys.readouterr().err
    assert child.terminate() == 0
