// Verifies recorded webhook deliveries with the `standardwebhooks` package from npm, an
// implementation of the Standard Webhooks specification independent of playcore's.
//
// Usage: node e2e/webhooks/verify.mjs FILE
// FILE holds one JSON object per line: {"secret", "headers": {"webhook-id",
// "webhook-timestamp", "webhook-signature"}, "body"} (body: the raw request body as text).
// Prints "verified N deliveries" and exits 0 when every signature verifies; otherwise
// prints each failure and exits 1. Timestamps are checked against the package's tolerance
// (five minutes), so run it right after the deliveries were recorded.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Webhook } = require("standardwebhooks");

const file = process.argv[2];
if (!file) {
    console.error("usage: node e2e/webhooks/verify.mjs FILE");
    process.exit(2);
}
const lines = readFileSync(file, "utf8").split("\n").filter((line) => line.trim() !== "");
let failures = 0;
for (const [index, line] of lines.entries()) {
    const delivery = JSON.parse(line);
    try {
        new Webhook(delivery.secret).verify(delivery.body, delivery.headers);
    } catch (error) {
        failures += 1;
        console.error(`line ${index + 1} (${delivery.headers["webhook-id"]}): ${error.message}`);
    }
}
if (lines.length === 0) {
    console.error("no deliveries to verify");
    process.exit(1);
}
if (failures > 0) {
    console.error(`${failures} of ${lines.length} deliveries did not verify`);
    process.exit(1);
}
console.log(`verified ${lines.length} deliveries`);
