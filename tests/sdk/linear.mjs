// Linear's own SDK (@linear/sdk, npm) verifying a delivery webhook-guard signed: one JSON
// object in on stdin ({body, signature, secret}), {"valid": bool} out. Driven by
// tests/sdk/senders.py for tests/e2e/sdks.rs.
import { LinearWebhookClient } from "@linear/sdk/webhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const a = JSON.parse(input);
let valid = false;
try {
  valid = new LinearWebhookClient(a.secret).verify(Buffer.from(a.body), a.signature) === true;
} catch {
  valid = false;
}
process.stdout.write(JSON.stringify({ valid }));
