// @ts-check
// Answers checked against the question set the server sends (GET /api/v1/schema/interview),
// before a change is queued: the same rules the server's validator applies
// (webapp/interviews/questions.py), so the phone never queues what the server will refuse.

/**
 * @typedef {{name: string, label: string, kind: string, choices: Array<[string, string]>,
 *   max_length: number}} Question
 * @typedef {{slug: string, title: string, questions: Question[]}} Section
 */

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

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
    if (!questions.has(name)) problems.push({ name, message: "This question is not on the form" });
  }
  for (const q of questions.values()) {
    const value = answers ? answers[q.name] : undefined;
    if (value === undefined || value === null || value === "") continue;
    const allowed = new Set(q.choices.map((c) => c[0]));
    if (q.kind === "radios") {
      if (typeof value !== "string" || !allowed.has(value)) {
        problems.push({ name: q.name, message: `${q.label}: choose one of the options` });
      }
    } else if (q.kind === "checkboxes") {
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string" && allowed.has(v))) {
        problems.push({ name: q.name, message: `${q.label}: choose from the options` });
      }
    } else if (q.kind === "datetime") {
      if (typeof value !== "string" || !ISO_INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
        problems.push({ name: q.name, message: `${q.label}: enter a real date and time` });
      }
    } else if (typeof value !== "string") {
      problems.push({ name: q.name, message: `${q.label}: enter text` });
    } else if (value.length > q.max_length) {
      problems.push({
        name: q.name,
        message: `${q.label} must be ${q.max_length.toLocaleString("en-GB")} characters or fewer`,
      });
    }
  }
  return problems;
}
