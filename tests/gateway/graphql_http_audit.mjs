// Runs graphql-http's server audit (GraphQL over HTTP conformance) against a URL and
// prints one JSON array of {id, name, status, reason} on stdout.
//
//   node graphql_http_audit.mjs <tools dir with node_modules> <graphql url>
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [toolsDir, url] = process.argv.slice(2);
if (!toolsDir || !url) {
  console.error("usage: node graphql_http_audit.mjs <tools dir> <graphql url>");
  process.exit(2);
}
const require = createRequire(join(resolve(toolsDir), "package.json"));
const { auditServer } = require("graphql-http");

const results = await auditServer({ url });
const report = await Promise.all(
  results.map(async (result) => ({
    id: result.id,
    name: result.name,
    status: result.status,
    reason: result.status === "ok" ? null : result.reason,
    responseStatus: result.status === "ok" ? null : result.response.status,
    responseBody: result.status === "ok" ? null : await result.response.text().catch(() => null),
  })),
);
process.stdout.write(JSON.stringify(report));
