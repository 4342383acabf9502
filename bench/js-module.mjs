// steward/worker's serve({ fetch }) (dist/worker.mjs) answering "hello\n" on the
// listener steward passes (fd 3), under whichever runtime runs this file.
import { serve } from "../dist/worker.mjs";

await serve({ fetch: () => new Response("hello\n") });
