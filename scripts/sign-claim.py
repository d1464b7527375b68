#!/usr/bin/env python3
"""Sign a ConsentRegistry claim (or revocation) as a compact JWS, ES256 (EC P-256) or EdDSA
(Ed25519), with the public key in the protected header. Independent of the service: Python's
`cryptography` package only.

The signing key is your identity in the registry. It lives outside any repository, in
${XDG_CONFIG_HOME:-~/.config}/consent-registry/key.pem (created on first use, readable by you
only); --key PATH uses another file.

  # opt an image out of AI training (the first run creates your key)
  python3 scripts/sign-claim.py --url https://artist.example/img/steampunk.jpg \\
      --usage train-ai=n --title "Steampunk gentleman" > claim.jws
  curl -X POST http://127.0.0.1:5099/v1/claims -H 'Content-Type: application/jose' --data-binary @claim.jws

  # a new key of your own as Ed25519 (EdDSA) instead of the default P-256 (ES256); the key file
  # decides the algorithm from then on
  python3 scripts/sign-claim.py --key ~/ed25519.pem --new-key-type ed25519 --print-party

  # revoke it later with the same key
  python3 scripts/sign-claim.py --revoke <claim id> > revocation.jws
  curl -X POST http://127.0.0.1:5099/v1/claims/<claim id>/revocation -H 'Content-Type: application/jose' --data-binary @revocation.jws
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import time

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
except ImportError:
    sys.exit("This script needs Python's 'cryptography' package (pip install cryptography, "
             "or apt-get install python3-cryptography).")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def default_key_path() -> str:
    # XDG base directories: a relative XDG_CONFIG_HOME is invalid and ignored.
    config = os.environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(config):
        config = os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, "consent-registry", "key.pem")


def load_or_create_key(path: str, new_key_type: str):
    if os.path.exists(path):
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            sys.exit(f"{path} is neither an EC P-256 nor an Ed25519 private key.")
        return key
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate() if new_key_type == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    print(f"Created a new signing key in {path}; keep it safe: it is your identity in the registry.",
          file=sys.stderr)
    return key


def public_jwk(key) -> dict:
    if isinstance(key, ed25519.Ed25519PrivateKey):  # RFC 8037 section 2
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")), "y": b64url(numbers.y.to_bytes(32, "big"))}


def thumbprint(jwk: dict) -> str:
    # RFC 7638: required members, lexicographic order, no whitespace (RFC 8037: OKP has no y).
    members = ("crv", "kty", "x") if jwk["kty"] == "OKP" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: jwk[k] for k in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def sign(key, payload: dict) -> str:
    eddsa = isinstance(key, ed25519.Ed25519PrivateKey)
    header = {"alg": "EdDSA" if eddsa else "ES256", "typ": "consent-claim", "jwk": public_jwk(key)}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode("utf-8")) + "." +
                     b64url(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")))
    if eddsa:
        return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)  # JWS wants raw r||s, 32 bytes each (RFC 7518 3.4)
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--key", default=default_key_path(),
                   help="PEM file of your EC P-256 or Ed25519 key, created (mode 0600) if missing; default: %(default)s")
    p.add_argument("--new-key-type", choices=("p256", "ed25519"), default="p256",
                   help="the kind of key to create when --key does not exist yet (p256 signs ES256, ed25519 EdDSA); "
                        "an existing key file decides for itself; default: %(default)s")
    p.add_argument("--url", action="append", default=[], help="an image URL (repeatable)")
    p.add_argument("--prefix", action="append", default=[], help="a URL prefix, e.g. https://me.example/art/ (repeatable)")
    p.add_argument("--host", action="append", default=[], help="a whole host, subdomains included (repeatable)")
    p.add_argument("--sha256", action="append", default=[], help="SHA-256 of an image file, 64 hex (repeatable)")
    p.add_argument("--pdq", action="append", default=[], help="PDQ hash of an image, 64 hex (repeatable: give all 8 dihedral variants POST /v1/images answers)")
    p.add_argument("--usage", default="train-ai=n",
                   help="comma-separated category=y|n (tdm, train-ai, train-genai, ai-use, search)")
    p.add_argument("--title")
    p.add_argument("--license", help="licence URL, for consents")
    p.add_argument("--contact", help="mailto: or https: contact")
    p.add_argument("--revoke", metavar="CLAIM_ID", help="sign a revocation of this claim instead")
    p.add_argument("--iat", type=int, help="issued-at, seconds since 1970 (default: now)")
    p.add_argument("--print-party", action="store_true", help="print your party id and exit")
    args = p.parse_args()

    key = load_or_create_key(args.key, args.new_key_type)
    if args.print_party:
        print(thumbprint(public_jwk(key)))
        return
    iat = args.iat if args.iat is not None else int(time.time())
    if args.revoke:
        print(sign(key, {"v": 1, "iat": iat, "revokes": args.revoke}))
        return

    subjects = ([{"kind": "url", "value": v} for v in args.url] +
                [{"kind": "url-prefix", "value": v} for v in args.prefix] +
                [{"kind": "host", "value": v, "include_subdomains": True} for v in args.host] +
                [{"kind": "sha256", "value": v} for v in args.sha256] +
                [{"kind": "pdq", "value": v} for v in args.pdq])
    if not subjects:
        sys.exit("Name at least one work: --url, --prefix, --host, --sha256 or --pdq.")
    usage = {}
    for item in args.usage.split(","):
        category, _, value = item.strip().partition("=")
        usage[category] = value
    payload = {"v": 1, "iat": iat, "subjects": subjects, "usage": usage}
    if args.title:
        payload["title"] = args.title
    if args.license or args.contact:
        payload["terms"] = {k: v for k, v in (("license", args.license), ("contact", args.contact)) if v}
    print(sign(key, payload))


if __name__ == "__main__":
    main()
