// @ts-check
// Every record type field mode knows, registered once. A new type is a new file here and one
// line below; the store, the outbox and the sync client need no change.

import { interview } from "./interview.js";
import { registry } from "./registry.js";

registry.register(interview);

export { registry };
