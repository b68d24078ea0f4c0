/**
 * A value quoted for an error message as JSON of at most about `max` characters: names and values
 * read from a file or a plan can be megabytes long (or share parts that expand enormously when
 * written out), a message line stays short. Containers are walked with a budget, so quoting costs no
 * more than the first `max` characters; a long string alone says its length; numbers JSON cannot write
 * (NaN, Infinity) are written as JavaScript writes them, not as null.
 */
export function quoted(value: unknown, max = 48): string {
    if (typeof value === "string" && value.length > max)
        return `${JSON.stringify(value.slice(0, max))}... (${value.length} characters)`;
    const out: string[] = [];
    let length = 0;
    const full = {};
    const put = (s: string): void => {
        out.push(s);
        length += s.length;
        if (length > max) throw full;
    };
    const walk = (v: unknown, depth: number): void => {
        if (typeof v === "string") put(JSON.stringify(v.length > max ? v.slice(0, max + 1) : v));
        else if (typeof v === "number") put(Number.isFinite(v) ? JSON.stringify(v) : String(v));
        else if (v === null || typeof v !== "object") put(typeof v === "boolean" ? `${v}` : String(v));
        else if (depth > 8) put("...");
        else if (Array.isArray(v)) {
            put("[");
            v.forEach((x, i) => {
                if (i > 0) put(",");
                walk(x, depth + 1);
            });
            put("]");
        } else {
            put("{");
            Object.keys(v).forEach((k, i) => {
                if (i > 0) put(",");
                put(`${JSON.stringify(k.length > max ? k.slice(0, max + 1) : k)}:`);
                walk((v as Record<string, unknown>)[k], depth + 1);
            });
            put("}");
        }
    };
    try {
        walk(value, 0);
    } catch (e) {
        if (e !== full) throw e;
        return `${out.join("").slice(0, max)}...`;
    }
    return out.join("");
}
