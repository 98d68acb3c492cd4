// @ts-check
// Answers checked against the question set the server sends (GET /api/v1/schema/interview),
// before a change is queued: the same rules the server's validator applies
// (webapp/interviews/questions.py), so the phone never queues what the server will refuse.

/**
 * @typedef {{name: string, label: string, kind: string, choices: Array<[string, string]>,
 *   max_length: number, messages?: Record<string, string>}} Question
 * @typedef {{slug: string, title: string, questions: Question[]}} Section
 */

// What Python's datetime.fromisoformat takes for an instant here: a date, a time, an offset.
const ISO = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const OFFSET = /(Z|[+-]\d{2}:?\d{2})$/;

// The server's words when the schema does not carry them (an older cached schema).
const FALLBACK = {
  choose_many: "{label}: choose from the options",
  choose_one: "{label}: choose one of the options",
  not_datetime: "{label}: enter a real date and time",
  no_offset: "{label}: give the time with its UK offset",
  not_text: "{label}: enter text",
  too_long: "{label} must be {max_length} characters or fewer",
};

const empty = (/** @type {any} */ v) => v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length);

/**
 * @param {Question} q
 * @param {keyof typeof FALLBACK} rule
 */
function problem(q, rule) {
  const text = (q.messages && q.messages[rule]) ||
    FALLBACK[rule].replace("{label}", q.label).replace("{max_length}", q.max_length.toLocaleString("en-GB"));
  return { name: q.name, message: text };
}

/**
 * The rule an answer breaks (webapp/interviews/questions.py: check_answer), or null.
 *
 * @param {Question} q
 * @param {any} value not empty
 * @returns {keyof typeof FALLBACK | null}
 */
function broken(q, value) {
  const allowed = new Set(q.choices.map((c) => c[0]));
  if (q.kind === "checkboxes") {
    return Array.isArray(value) && value.every((v) => allowed.has(v)) ? null : "choose_many";
  }
  if (q.kind === "radios") return typeof value === "string" && allowed.has(value) ? null : "choose_one";
  if (q.kind === "datetime") {
    if (typeof value !== "string" || !ISO.test(value) || Number.isNaN(Date.parse(value.replace(" ", "T")))) {
      return "not_datetime";
    }
    return OFFSET.test(value) ? null : "no_offset";
  }
  if (typeof value !== "string") return "not_text";
  return value.length > q.max_length ? "too_long" : null;
}

/**
 * @param {Record<string, any>} answers
 * @param {Section[]} sections
 * @returns {Array<{name: string, message: string}>} in question order; [] when all is well
 */
export function validateAnswers(answers, sections) {
  /** @type {Map<string, Question>} */
  const questions = new Map();
  for (const s of sections) for (const q of s.questions) questions.set(q.name, q);
  const problems = [];
  for (const name of Object.keys(answers || {})) {
    if (!questions.has(name)) problems.push({ name, message: "An answer this form does not have was sent" });
  }
  for (const q of questions.values()) {
    const value = answers ? answers[q.name] : undefined;
    if (empty(value)) continue;
    const rule = broken(q, value);
    if (rule) problems.push(problem(q, rule));
  }
  return problems;
}

/**
 * @typedef {{section: string, field: string, message: string,
 *   when: Array<Record<string, string[]>>}} RequiredRule
 */

/**
 * What is still missing before an interview can be sent for authorisation: the server's
 * completeness_problems, from its rules as data (schema.required).
 *
 * @param {Record<string, any>} answers
 * @param {RequiredRule[] | undefined} rules
 * @returns {Array<{name: string, message: string}>}
 */
export function missingAnswers(answers, rules) {
  const data = answers || {};
  /** @param {Record<string, string[]>} alternative */
  const holds = (alternative) =>
    Object.entries(alternative).every(([name, values]) => (Array.isArray(data[name])
      // A checkboxes answer matches when any box ticked is one of the values (as the server).
      ? data[name].some((/** @type {string} */ item) => values.includes(item))
      : values.includes(data[name])));
  return (rules || [])
    .filter((r) => (!r.when.length || r.when.some(holds)) && empty(data[r.field]))
    .map((r) => ({ name: r.field, message: r.message }));
}
