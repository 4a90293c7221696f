// A finished outline as Markdown, built in the browser from the outline JSON.

function line(text) {
  return String(text).replace(/\s+/g, " ").trim();
}

export function outlineMarkdown(outline) {
  const out = [`# ${line(outline.title)}`, ""];
  out.push(`${outline.total_minutes} minutes · depth ${outline.preferences.depth} · pace ${outline.preferences.pace}`);
  out.push("", `> ${line(outline.query)}`, "");
  outline.parts.forEach((part, p) => {
    out.push(`## Part ${p + 1}: ${line(part.title)} (${part.minutes} min)`, "");
    part.sections.forEach((section, s) => {
      out.push(`### ${p + 1}.${s + 1} ${line(section.title)} (${section.minutes} min)`, "");
      for (const objective of section.objectives) out.push(`- ${line(objective)}`);
      out.push("");
      if (section.sources.length) {
        out.push("Sources:");
        for (const source of section.sources) {
          out.push(`- *${line(source.book_title)}*, chapter ${source.chapter_number}: ${line(source.chapter_title)}`);
        }
        out.push("");
      }
    });
  });
  return out.join("\n");
}

export function fileName(outline) {
  const slug = line(outline.title).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return `${slug || "course"}.md`;
}
