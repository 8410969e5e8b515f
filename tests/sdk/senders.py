"""The senders' own SDKs, driven by tests/e2e/sdks.rs: `sign` makes a delivery the way the
sender's library does, `verify` checks one that webhook-guard signed. One JSON object in on
stdin, one out on stdout. Not part of the filter: the test tooling installs these (make sdks).
"""
import base64
import datetime
import json
import sys
from urllib.parse import urlencode


def twilio_form(a):
    from twilio.request_validator import RequestValidator
    v = RequestValidator(a["secret"])
    params = a["params"]
    sig = v.compute_signature(a["url"], params)
    return {"headers": {"x-twilio-signature": sig}, "body": urlencode(params), "path_suffix": ""}


def twilio_json(a):
    from twilio.request_validator import RequestValidator
    v = RequestValidator(a["secret"])
    body = a["body"]
    url = a["url"] + ("&" if "?" in a["url"] else "?") + "bodySHA256=" + v.compute_hash(body)
    sig = v.compute_signature(url, {})
    return {"headers": {"x-twilio-signature": sig}, "body": body, "url": url}


def standard(a):
    from standardwebhooks.webhooks import Webhook
    ts = datetime.datetime.fromtimestamp(a["timestamp"], tz=datetime.timezone.utc)
    sig = Webhook(a["secret"]).sign(a["id"], ts, a["body"])
    return {"headers": {"webhook-id": a["id"], "webhook-timestamp": str(a["timestamp"]),
                        "webhook-signature": sig}, "body": a["body"]}


def discord(a):
    from nacl.signing import SigningKey
    ts = str(a["timestamp"])
    sig = SigningKey(bytes.fromhex(a["seed"])).sign((ts + a["body"]).encode()).signature.hex()
    return {"headers": {"x-signature-ed25519": sig, "x-signature-timestamp": ts}, "body": a["body"]}


def sendgrid(a):
    # SendGrid's SDK verifies only; its signing side is ECDSA P-256 with SHA-256, DER,
    # base64: made here with `cryptography`, the library the SDK verifies with.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.derive_private_key(int(a["scalar"], 16), ec.SECP256R1())
    ts = str(a["timestamp"])
    der = key.sign((ts + a["body"]).encode(), ec.ECDSA(hashes.SHA256()))
    return {"headers": {"x-twilio-email-event-webhook-signature": base64.b64encode(der).decode(),
                        "x-twilio-email-event-webhook-timestamp": ts}, "body": a["body"]}


def stripe_sign(a):
    from stripe import WebhookSignature
    header = WebhookSignature.generate_signature_header(a["body"], a["secret"], a["timestamp"])
    return {"headers": {"stripe-signature": header}, "body": a["body"]}


def slack_sign(a):
    from slack_sdk.signature import SignatureVerifier
    ts = str(a["timestamp"])
    sig = SignatureVerifier(a["secret"]).generate_signature(timestamp=ts, body=a["body"])
    return {"headers": {"x-slack-signature": sig, "x-slack-request-timestamp": ts}, "body": a["body"]}


SIGN = {"twilio-form": twilio_form, "twilio-json": twilio_json, "standard-webhooks": standard,
        "discord": discord, "sendgrid": sendgrid, "stripe": stripe_sign, "slack": slack_sign}


def verify(a):
    """Whether the sender's SDK accepts a delivery `webhook-guard send`'s code signed."""
    h = {k.lower(): v for k, v in a["headers"].items()}
    body = a["body"]
    kind = a["kind"]
    if kind == "twilio":
        from twilio.request_validator import RequestValidator
        from urllib.parse import parse_qsl
        params = dict(parse_qsl(body, keep_blank_values=True))
        return RequestValidator(a["secret"]).validate(a["url"], params, h["x-twilio-signature"])
    if kind == "standard-webhooks":
        from standardwebhooks.webhooks import Webhook
        try:
            Webhook(a["secret"]).verify(body, h)
            return True
        except Exception:
            return False
    if kind == "sendgrid":
        from sendgrid.helpers.eventwebhook import EventWebhook
        ew = EventWebhook(a["public_key"])
        return ew.verify_signature(body, h["x-twilio-email-event-webhook-signature"],
                                   h["x-twilio-email-event-webhook-timestamp"])
    if kind == "discord":
        from nacl.signing import VerifyKey
        from nacl.exceptions import BadSignatureError
        try:
            VerifyKey(bytes.fromhex(a["public_key"])).verify(
                (h["x-signature-timestamp"] + body).encode(), bytes.fromhex(h["x-signature-ed25519"]))
            return True
        except BadSignatureError:
            return False
    if kind == "paddle":
        from paddle_billing.Notifications import Secret, Verifier

        class Request:  # what Verifier reads of a framework's request
            def __init__(self, headers, body):
                self.headers = {"Paddle-Signature": headers["paddle-signature"]}
                self.body = body.encode()

        return Verifier().verify(Request(h, body), Secret(a["secret"]))
    if kind == "square":
        from square.utils.webhooks_helper import verify_signature
        return verify_signature(request_body=body, signature_header=h["x-square-hmacsha256-signature"],
                                signature_key=a["secret"], notification_url=a["url"])
    if kind == "stripe":
        from stripe import WebhookSignature, SignatureVerificationError
        try:
            WebhookSignature.verify_header(body, h["stripe-signature"], a["secret"], tolerance=300)
            return True
        except SignatureVerificationError:
            return False
    if kind == "slack":
        from slack_sdk.signature import SignatureVerifier
        return SignatureVerifier(a["secret"]).is_valid(
            body=body, timestamp=h["x-slack-request-timestamp"], signature=h["x-slack-signature"])
    if kind == "linear":
        # Linear's SDK is on npm only: tests/sdk/linear.mjs, run by node.
        import os
        import subprocess
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(["node", os.path.join(here, "linear.mjs")], check=True, capture_output=True,
                             input=json.dumps({"body": body, "signature": h["linear-signature"],
                                               "secret": a["secret"]}).encode())
        return json.loads(out.stdout)["valid"]
    if kind == "hubspot":
        from hubspot.utils.signature import Signature
        from hubspot.exceptions import InvalidSignatureTimestampError
        try:
            return Signature.is_valid(signature=h["x-hubspot-signature-v3"], client_secret=a["secret"],
                                      request_body=body, http_uri=a["url"], http_method="POST",
                                      signature_version="v3", timestamp=h["x-hubspot-request-timestamp"])
        except InvalidSignatureTimestampError:
            return False
    raise SystemExit("unknown kind " + kind)


def main():
    a = json.load(sys.stdin)
    if a["mode"] == "sign":
        out = SIGN[a["kind"]](a)
    else:
        out = {"valid": bool(verify(a))}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
