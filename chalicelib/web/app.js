// The learner's page: the request form, live progress, the outline, the course list and the library.

import { api, ApiError, Unreachable, requestKey } from "./api.js";
import { claims, authorization, redirectToSignIn, signOut, start } from "./auth.js";
import { fileName, outlineMarkdown } from "./markdown.js";

const $ = (id) => document.getElementById(id);

const STATUS_TEXT = {
  queued: "Queued",
  searching: "Searching your library",
  planning: "Planning the parts",
  generating_sections: "Planning the sections",
  reviewing: "Reviewing the outline",
  storing: "Storing the course",
  complete: "Complete",
  failed: "Failed",
};
const FIELD_IDS = { query: "query", hours: "hours", "preferences.depth": "depth", "preferences.pace": "pace" };
const PAGE_SIZE = 10;

let config = null;
let shown = null; // the course on screen: {id, timer, startedAt}
let listCursor = null;

// --- the unreachable-server banner: each caller retries with backoff while it shows -----------

const failing = new Set();

function reportReachable(who, error) {
  if (error) failing.add(who);
  else failing.delete(who);
  const banner = $("banner");
  banner.hidden = failing.size === 0;
  if (error) banner.textContent = `${error.message} Retrying…`;
}

async function withRetry(who, action) {
  let delay = 1000;
  for (;;) {
    try {
      const result = await action();
      reportReachable(who, null);
      return result;
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      reportReachable(who, error);
      await pause(error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : delay);
      delay = Math.min(delay * 2, 15000);
    }
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "className") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// --- the form ---------------------------------------------------------------------------------

function setupForm() {
  const { query_chars: chars, hours } = config.limits;
  $("query-hint").textContent = `${chars.min}–${chars.max} characters.`;
  $("hours-hint").textContent = `From ${hours.min} to ${hours.max} hours.`;
  Object.assign($("hours"), { min: hours.min, max: hours.max, step: 0.25 });
  for (const [id, choices, chosen] of [
    ["depth", config.depths, config.defaults.depth],
    ["pace", config.paces, config.defaults.pace],
  ]) {
    for (const choice of choices) $(id).append(element("option", { value: choice }, choice));
    $(id).value = chosen;
  }
  $("request-fields").disabled = false;
  $("request-form").addEventListener("submit", onSubmit);
}

function clearErrors() {
  for (const id of ["query", "hours", "depth", "pace"]) {
    $(`${id}-error`).hidden = true;
    $(id).removeAttribute("aria-invalid");
  }
  $("form-error").hidden = true;
}

function showFieldError(field, message) {
  const id = FIELD_IDS[field];
  if (!id) {
    $("form-error").textContent = message;
    $("form-error").hidden = false;
    return;
  }
  $(`${id}-error`).textContent = message;
  $(`${id}-error`).hidden = false;
  $(id).setAttribute("aria-invalid", "true");
}

// The same rules the API applies, so most mistakes are named before anything is sent.
function check(request) {
  const problems = [];
  const { query_chars: chars, hours } = config.limits;
  const length = [...request.query].length;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(request.query)) problems.push(["query", "The text may not contain control characters."]);
  else if (length < chars.min) problems.push(["query", `Write at least ${chars.min} characters.`]);
  else if (length > chars.max) problems.push(["query", `Write at most ${chars.max} characters (now ${length}).`]);
  if (!Number.isFinite(request.hours)) problems.push(["hours", "Give the hours as a number."]);
  else if (request.hours < hours.min || request.hours > hours.max) {
    problems.push(["hours", `Choose between ${hours.min} and ${hours.max} hours.`]);
  }
  return problems;
}

async function onSubmit(event) {
  event.preventDefault();
  clearErrors();
  const hoursText = $("hours").value.trim();
  const request = {
    query: $("query").value.split(/\s+/).filter(Boolean).join(" "),
    hours: hoursText === "" ? NaN : Number(hoursText),
    preferences: { depth: $("depth").value, pace: $("pace").value },
  };
  const problems = check(request);
  if (problems.length) {
    for (const [field, message] of problems) showFieldError(field, message);
    $(FIELD_IDS[problems[0][0]]).focus();
    return;
  }
  $("submit").disabled = true;
  const key = requestKey(); // one per submission, kept across its retries
  try {
    const accepted = await withRetry("submit", () => api.submit(request, key));
    showCourse(accepted.course_id, true);
    refreshCourses();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    showFieldError(error.field, error.message);
    const id = FIELD_IDS[error.field];
    if (id) $(id).focus();
  } finally {
    $("submit").disabled = false;
  }
}

// --- one course: progress while it is built, then the outline or the failure -----------------

function showCourse(courseId, focus) {
  if (shown) clearInterval(shown.timer);
  shown = { id: courseId, timer: null, startedAt: null, course: null };
  const panel = $("course");
  panel.hidden = false;
  panel.dataset.courseId = courseId;
  $("course-heading").textContent = "Course";
  $("outline").replaceChildren();
  $("failure").hidden = true;
  for (const id of ["retry", "export", "delete"]) $(id).hidden = true;
  $("progress").textContent = "Waiting for the course…";
  delete $("progress").dataset.status;
  $("elapsed").textContent = "";
  if (focus) $("course-heading").focus();
  poll(shown);
}

async function poll(watch) {
  let delay = 250;
  let lastProgress = "";
  for (;;) {
    if (shown !== watch) return;
    let course;
    try {
      course = await withRetry("poll", () => api.course(watch.id));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      $("progress").textContent = error.message;
      return;
    }
    if (shown !== watch) return;
    render(watch, course);
    if (course.status === "complete" || course.status === "failed") {
      refreshCourses(); // the list shows the new status
      return;
    }
    const progress = `${course.status}:${course.progress.parts_done}`;
    delay = progress === lastProgress ? Math.min(delay * 1.5, 5000) : 250;
    lastProgress = progress;
    await pause(delay);
  }
}

function elapsedText(watch, course) {
  const end = course.status === "complete" || course.status === "failed" ? Date.parse(course.updated_at) : Date.now();
  const seconds = Math.max(0, (end - watch.startedAt) / 1000);
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function render(watch, course) {
  watch.course = course;
  watch.startedAt ??= Date.parse(course.created_at) || Date.now();
  $("course-heading").textContent = course.title || course.query;
  const done = course.status === "complete" || course.status === "failed";
  const { parts_done: partsDone, parts_total: partsTotal } = course.progress;
  let text = STATUS_TEXT[course.status] ?? course.status;
  if (!done && partsTotal > 0) text += `: part ${Math.min(partsDone + 1, partsTotal)} of ${partsTotal}`;
  if (course.status === "complete") {
    const parts = course.course.parts.length;
    text = `Complete: ${parts} ${parts === 1 ? "part" : "parts"}, ${course.course.total_minutes} minutes`;
  }
  if ($("progress").textContent !== text) $("progress").textContent = text;
  $("progress").dataset.status = course.status;
  clearInterval(watch.timer);
  const tick = () => ($("elapsed").textContent = `${{ complete: "Built in", failed: "Stopped after" }[course.status] ?? "Elapsed"} ${elapsedText(watch, course)}`);
  tick();
  if (!done) watch.timer = setInterval(tick, 500);
  $("delete").hidden = !done;
  $("retry").hidden = course.status !== "failed";
  $("export").hidden = course.status !== "complete";
  $("failure").hidden = course.status !== "failed";
  if (course.status === "failed" && course.error) {
    $("failure-text").textContent = `Failed in the ${course.error.phase} phase: ${course.error.reason}`;
  }
  if (course.status === "complete") renderOutline(course.course);
}

function renderOutline(outline) {
  const meta = element(
    "p",
    { className: "meta" },
    `${outline.hours} h · ${outline.total_minutes} minutes · depth ${outline.preferences.depth} · pace ${outline.preferences.pace}`,
  );
  const parts = element("ol", { className: "parts" });
  outline.parts.forEach((part) => {
    const sections = element("ol", { className: "sections" });
    for (const section of part.sections) {
      const objectives = element("ul", { className: "objectives" });
      for (const objective of section.objectives) objectives.append(element("li", {}, objective));
      const sources = element("ul", { className: "sources", "aria-label": "Cited chapters" });
      for (const source of section.sources) {
        sources.append(
          element("li", {}, element("cite", {}, source.book_title), `, chapter ${source.chapter_number}: ${source.chapter_title}`),
        );
      }
      sections.append(
        element(
          "li",
          { className: "section" },
          element("h4", {}, section.title, " ", element("span", { className: "minutes" }, `${section.minutes} min`)),
          objectives,
          element("p", { className: "sources-label" }, "Sources"),
          sources,
        ),
      );
    }
    parts.append(
      element(
        "li",
        { className: "part" },
        element("h3", {}, part.title, " ", element("span", { className: "minutes" }, `${part.minutes} min`)),
        sections,
      ),
    );
  });
  $("outline").replaceChildren(meta, parts);
}

function exportMarkdown() {
  const outline = shown?.course?.course;
  if (!outline) return;
  const blob = new Blob([outlineMarkdown(outline)], { type: "text/markdown" });
  const link = element("a", { href: URL.createObjectURL(blob), download: fileName(outline) });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function retryShown() {
  const watch = shown;
  if (!watch) return;
  $("retry").disabled = true;
  try {
    const accepted = await withRetry("retry", () => api.retry(watch.id));
    showCourse(accepted.course_id, true);
    refreshCourses();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    $("failure-text").textContent = error.message;
  } finally {
    $("retry").disabled = false;
  }
}

async function deleteShown() {
  const watch = shown;
  if (!watch || !confirm("Delete this course?")) return;
  try {
    await withRetry("delete", () => api.remove(watch.id));
    clearInterval(watch.timer);
    shown = null;
    $("course").hidden = true;
    refreshCourses();
    $("request-heading").focus();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    $("progress").textContent = error.message;
  }
}

// --- the learner's courses, newest first, a page at a time -------------------------------------

function courseItem(course) {
  const when = new Date(course.created_at);
  const button = element(
    "button",
    { type: "button", className: "course-link" },
    element("span", { className: "course-title" }, course.title || course.query),
    element("span", { className: `badge status-${course.status}` }, STATUS_TEXT[course.status] ?? course.status),
    element("time", { datetime: course.created_at }, when.toLocaleString()),
  );
  button.addEventListener("click", () => showCourse(course.course_id, true));
  return element("li", { "data-course-id": course.course_id }, button);
}

async function loadCourses(cursor) {
  const page = await withRetry("courses", () =>
    api.courses({ limit: PAGE_SIZE, cursor, status: $("status-filter").value }),
  );
  if (!cursor) $("course-list").replaceChildren();
  for (const course of page.courses) $("course-list").append(courseItem(course));
  listCursor = page.next_cursor ?? null;
  $("more-courses").hidden = listCursor === null;
  $("courses-empty").hidden = $("course-list").children.length > 0;
  $("course-list").setAttribute("aria-busy", "false");
}

function refreshCourses() {
  loadCourses(null).catch(showLoadError);
}

function showLoadError(error) {
  if (!(error instanceof ApiError)) throw error;
  $("form-error").textContent = error.message;
  $("form-error").hidden = false;
}

async function loadLibrary() {
  const { books } = await withRetry("books", () => api.books());
  const rows = books.map((book) =>
    element(
      "tr",
      {},
      element("td", {}, element("cite", {}, book.title), book.yours ? " (yours)" : ""),
      element("td", {}, book.author),
      element("td", { className: "num" }, String(book.chapters)),
    ),
  );
  $("library").tBodies[0].replaceChildren(...rows);
  $("library").hidden = rows.length === 0;
  $("library-empty").hidden = rows.length > 0;
  $("library").setAttribute("aria-busy", "false");
}

// --- adding a book (where the server can read documents: config.add_books) --------------------

function megabytes(bytes) {
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1)} MB`;
}

function setupAddBook() {
  const adding = config.add_books;
  if (!adding) return;
  $("book-file").accept = adding.suffixes.join(",");
  $("book-file-hint").textContent = `${adding.formats}; up to ${adding.max_bytes / 2 ** 20} MB. Reading takes a few seconds.`;
  $("library-empty").textContent = "The library is empty: add a book below.";
  $("add-book-form").hidden = false;
  $("add-book-form").addEventListener("submit", onAddBook);
  $("book-file").addEventListener("change", () => showBookError(null));
}

function showBookError(message) {
  $("book-file-error").hidden = !message;
  $("book-file-error").textContent = message ?? "";
  if (message) $("book-file").setAttribute("aria-invalid", "true");
  else $("book-file").removeAttribute("aria-invalid");
}

function checkBook(file) {
  const adding = config.add_books;
  if (!file) return "Choose a document to add.";
  const dot = file.name.lastIndexOf(".");
  const suffix = dot > 0 ? file.name.slice(dot).toLowerCase() : "";
  if (!adding.suffixes.includes(suffix)) return `${file.name} cannot be added: choose ${adding.formats}.`;
  if (file.size > adding.max_bytes) {
    return `${file.name} is ${megabytes(file.size)}, over the ${adding.max_bytes / 2 ** 20} MB limit: add it with coursegen library add.`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  return null;
}

async function onAddBook(event) {
  event.preventDefault();
  const file = $("book-file").files[0];
  const problem = checkBook(file);
  showBookError(problem);
  if (problem) {
    $("add-book-status").textContent = "";
    $("book-file").focus();
    return;
  }
  const form = $("add-book-form");
  $("add-book").disabled = true;
  form.setAttribute("aria-busy", "true");
  $("add-book-status").textContent = `Reading ${file.name}…`;
  try {
    const answer = await withRetry("add-book", () => api.addBook(file));
    $("add-book-status").textContent = answer.added
      ? `Added ${answer.book.title} (${answer.book.chapters} chapters).`
      : `${answer.book.title} is already in the library: nothing changed.`;
    $("book-file").value = "";
    await loadLibrary();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    $("add-book-status").textContent = "";
    showBookError(error.message);
    $("book-file").focus();
  } finally {
    $("add-book").disabled = false;
    form.setAttribute("aria-busy", "false");
  }
}

// --- start ------------------------------------------------------------------------------------

async function main() {
  config = await withRetry("config", () => api.config());
  if (config.sign_in) {
    $("account").hidden = false;
    const signedIn = await start(config.sign_in);
    $("sign-in").hidden = signedIn;
    $("sign-out").hidden = !signedIn;
    $("sign-in").addEventListener("click", redirectToSignIn);
    $("sign-out").addEventListener("click", signOut);
    if (!signedIn) return;
    $("account-name").textContent = claims(authorization()).email ?? "";
  }
  setupForm();
  $("export").addEventListener("click", exportMarkdown);
  $("retry").addEventListener("click", retryShown);
  $("delete").addEventListener("click", deleteShown);
  $("more-courses").addEventListener("click", () => loadCourses(listCursor).catch(showLoadError));
  $("status-filter").addEventListener("change", refreshCourses);
  setupAddBook();
  refreshCourses();
  loadLibrary().catch(showLoadError);
}

main();
