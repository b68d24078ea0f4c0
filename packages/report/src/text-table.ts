/** Rendering of simple tables of text as Markdown, HTML and CSV, and number formatting for them. */

/** A table of preformatted cells. */
export interface TextTable {
    headers: string[];
    /** Alignment per column (numbers right-aligned). */
    align: ("left" | "right")[];
    rows: string[][];
    /** Optional CSS class per row in HTML (e.g. "paper" for the paper's rows). */
    rowClasses?: (string | undefined)[];
}

/** Escapes text for HTML/XML element content and attribute values. */
export function escapeXml(text: string): string {
    return text.replace(/[&<>"']/g, (c) => {
        switch (c) {
            case "&":
                return "&amp;";
            case "<":
                return "&lt;";
            case ">":
                return "&gt;";
            case '"':
                return "&quot;";
            default:
                return "&#39;";
        }
    });
}

function markdownCell(text: string): string {
    return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** A GitHub-flavoured Markdown table. */
export function markdownTable(t: TextTable): string {
    const widths = t.headers.map((h, c) =>
        Math.max(3, h.length, ...t.rows.map((r) => markdownCell(r[c] ?? "").length)),
    );
    const line = (cells: string[]) =>
        `| ${cells
            .map((cell, c) => {
                const w = widths[c] ?? 3;
                const text = markdownCell(cell);
                return t.align[c] === "right" ? text.padStart(w) : text.padEnd(w);
            })
            .join(" | ")} |`;
    const rule = `| ${widths.map((w, c) => (t.align[c] === "right" ? `${"-".repeat(w - 1)}:` : "-".repeat(w))).join(" | ")} |`;
    return [line(t.headers), rule, ...t.rows.map((r) => line(t.headers.map((_, c) => r[c] ?? "")))].join("\n");
}

/** An HTML <table> (cells escaped). */
export function htmlTable(t: TextTable, caption?: string): string {
    const cls = (c: number) => (t.align[c] === "right" ? ' class="num"' : "");
    const head = `<thead><tr>${t.headers.map((h, c) => `<th${cls(c)}>${escapeXml(h)}</th>`).join("")}</tr></thead>`;
    const body = t.rows
        .map((r, i) => {
            const rc = t.rowClasses?.[i];
            const cells = t.headers.map((_, c) => `<td${cls(c)}>${escapeXml(r[c] ?? "")}</td>`).join("");
            return `<tr${rc ? ` class="${escapeXml(rc)}"` : ""}>${cells}</tr>`;
        })
        .join("\n");
    const cap = caption ? `<caption>${escapeXml(caption)}</caption>` : "";
    return `<table>${cap}${head}<tbody>\n${body}\n</tbody></table>`;
}

/** A CSV cell value: numbers with 6 decimals (6 significant digits below 1e-3), null/undefined/NaN as empty. */
export type CsvValue = string | number | null | undefined;

function csvCell(v: CsvValue): string {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") {
        if (!Number.isFinite(v)) return "";
        // Small magnitudes (p-values) keep 6 significant digits; others 6 decimals.
        return v !== 0 && Math.abs(v) < 1e-3 ? v.toPrecision(6) : String(Number(v.toFixed(6)));
    }
    return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** RFC 4180 CSV with a header line and CRLF-free "\n" line ends. */
export function csvTable(headers: readonly string[], rows: readonly CsvValue[][]): string {
    return `${[headers.map(csvCell).join(","), ...rows.map((r) => r.map(csvCell).join(","))].join("\n")}\n`;
}

/** A percentage with 3 decimals like the paper ("77.807"); "n/a" when not finite. */
export function fmt3(v: number): string {
    return Number.isFinite(v) ? v.toFixed(3) : "n/a";
}

/** A signed percentage with 3 decimals ("+7.465", "-0.111"); "n/a" when not finite. */
export function fmtSigned(v: number): string {
    if (!Number.isFinite(v)) return "n/a";
    const s = v.toFixed(3);
    return v > 0 || (v === 0 && !s.startsWith("-")) ? `+${s}` : s;
}

/** A published number with at least 3 decimals and as many as printed (74.6944 stays 74.6944). */
export function fmtPaper(v: number, signed = false): string {
    const printed = String(v);
    const dot = printed.indexOf(".");
    const decimals = Math.max(3, dot < 0 ? 0 : printed.length - dot - 1);
    const s = v.toFixed(decimals);
    return signed && v >= 0 ? `+${s}` : s;
}

/** A p-value: 3 significant digits, scientific below 1e-4. */
export function fmtP(p: number): string {
    if (!Number.isFinite(p)) return "n/a";
    if (p < 1e-4) return p.toExponential(2);
    return p.toPrecision(3);
}
