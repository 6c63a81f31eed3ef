"""Files with Content Credentials made inside the tests: a CA and an end-entity certificate generated
with `cryptography`, used to sign images with c2pa-python. Nothing here is trusted outside a test."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import lru_cache

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAMERA_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


@dataclass(frozen=True)
class Chain:
    ca_pem: bytes
    chain_pem: bytes  # end-entity first, then the CA
    key_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Newsroom")]
    )


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=not sign, crl_sign=not sign, encipher_only=False, decipher_only=False,
    )


@lru_cache(maxsize=1)
def make_chain() -> Chain:
    """A root CA and an end-entity certificate with digitalSignature and the emailProtection EKU (C2PA accepts it)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, ee_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("Test Root CA")).issuer_name(_name("Test Root CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ee = (
        x509.CertificateBuilder().subject_name(_name("Test Signer")).issuer_name(ca.subject)
        .public_key(ee_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key = ee_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return Chain(ca.public_bytes(pem), ee.public_bytes(pem) + ca.public_bytes(pem), key)


def sign_jpeg(jpeg: bytes, source_type: str = AI_SOURCE, agent: str = "Test Generator 2", chain: Chain | None = None) -> bytes:
    """The JPEG with an embedded C2PA manifest: one 'created' action with the given digital source type."""
    chain = chain or make_chain()
    manifest = {
        "claim_generator_info": [{"name": "dfx-tests", "version": "1.0"}],
        "title": "signed.jpg",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": source_type, "softwareAgent": agent}
            ]}}
        ],
    }
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain.chain_pem, chain.key_pem, None))
    context = c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False}, "builder": {"thumbnail": {"enabled": False}}})
    out = io.BytesIO()
    with c2pa.Builder(manifest, context=context) as builder:
        builder.sign(signer, "image/jpeg", io.BytesIO(jpeg), out)
    return out.getvalue()


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each JPEG segment before the image data (start of scan)."""
    segments, position = [], 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        segments.append((marker, position, end))
        if marker == 0xDA:  # start of scan: compressed pixels follow
            break
        position = end
    return segments


def strip_c2pa(data: bytes) -> bytes:
    """The JPEG without its APP11 (JUMBF / C2PA) segments: what a social network upload does."""
    keep = bytearray(data[:2])
    last = 2
    for marker, start, end in jpeg_segments(data):
        if marker != 0xEB:
            keep += data[start:end]
        last = end
    return bytes(keep + data[last:])


def flip_image_byte(data: bytes) -> bytes:
    """One byte of compressed pixel data changed (after the start-of-scan header)."""
    scan_end = jpeg_segments(data)[-1][2]
    position = scan_end + (len(data) - scan_end) // 2
    changed = bytearray(data)
    changed[position] ^= 0x01 if changed[position] not in (0xFE, 0xFF) else 0x02
    return bytes(changed)


def malformed_manifest(data: bytes) -> bytes:
    """The manifest's JUMBF box scribbled over in the middle: still marked as C2PA, no longer parseable."""
    marker, start, end = next(s for s in jpeg_segments(data) if s[0] == 0xEB)
    changed = bytearray(data)
    middle = start + (end - start) // 2
    changed[middle : middle + 64] = bytes((i * 37 + 11) % 256 for i in range(64))
    return bytes(changed)
