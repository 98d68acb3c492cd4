// @ts-check
// Every record type field mode knows, registered once. A new type is a new file here and one
// line below; the store, the outbox and the sync client need no change.

import { child } from "./child.js";
import { episode } from "./episode.js";
import { interview } from "./interview.js";
import { pupil } from "./pupil.js";
import { registry } from "./registry.js";
import { school } from "./school.js";
import { schoolEntry } from "./school_entry.js";

registry.register(interview);
registry.register(child);
registry.register(episode);
registry.register(school);
registry.register(pupil);
registry.register(schoolEntry);

export { registry };
