// bench/js-module.mjs answering with steward/worker's FastResponse, which serve() on
// node:http writes in one writeHead + end instead of streaming the runtime's Response.
import { FastResponse, serve } from "../dist/worker.mjs";

await serve({ fetch: () => new FastResponse("hello\n") });
