/**
 * Arms of an ablation: what a plan's strategy id denotes. Most ids are prompt strategies (the decoder
 * fine-tuned with that prompt, `parseStrategy`); the architecture modifications of the paper's Table 1
 * (IDs 9-11) are arms too:
 * - `head:autosam`: the mask decoder without prompt tokens (output tokens attend to the image
 *   embedding alone), trained and evaluated with no prompt;
 * - `head:cnn<N>` (N = 1..6): a CNN head of N (3x3 conv, norm, ReLU) blocks on the frozen image
 *   embedding; `head:linear`: a 1x1 convolution to one channel;
 * - `lora<r>_<prompt>` (e.g. `lora4_box`, `lora8_points10_box`): rank-r adapters in the image encoder,
 *   trained with the decoder under a prompt strategy.
 * `parseStrategy` stays the prompt-only parser; this one is what plans, units, the runner and the
 * report use to tell the kinds apart.
 */
import { quoted } from "@sam-ablate/errors";
import { StrategyError } from "./errors.js";
import type { PromptPlan } from "./prompt-plan.js";
import { parseStrategy, type StrategyDefinition } from "./strategies.js";

/** Prompt-free prediction heads. */
export type HeadKind = "autosam" | "cnn" | "linear";

/** Bounds of the numbers in architecture ids. */
export const ARM_LIMITS = {
    /** CNN head depth (conv blocks). */
    minCnnDepth: 1,
    maxCnnDepth: 6,
    /** LoRA rank. */
    maxLoraRank: 256,
} as const;

/** What a strategy id denotes. `id` is canonical, `label` human-readable. */
export type Arm =
    | { kind: "prompt"; id: string; label: string; strategy: StrategyDefinition }
    | { kind: "head"; id: string; label: string; head: HeadKind; depth?: number }
    | { kind: "lora"; id: string; label: string; rank: number; prompt: StrategyDefinition };

const HEAD_FORMS = "head:autosam, head:cnn<N> (N 1-6), head:linear, lora<r>_<prompt strategy> (e.g. lora4_box)";

/**
 * Parses a plan's strategy id. Prompt ids go through `parseStrategy` (its errors unchanged); `head:`
 * and `lora<r>_` ids are checked here. Throws `StrategyError` (code `ERR_SA_STRATEGY`) for an unknown
 * or out-of-range id, naming it and the valid forms.
 */
export function parseArm(id: string): Arm {
    if (typeof id !== "string") return promptArm(parseStrategy(id));
    const text = id.trim().toLowerCase();
    const fail = (why: string): never => {
        throw new StrategyError(`unknown strategy ${quoted(id)}: ${why}; architecture forms: ${HEAD_FORMS}`);
    };
    if (text.startsWith("head:") || text.startsWith("head-")) {
        const name = text.slice(5);
        if (name === "autosam")
            return { kind: "head", id: "head:autosam", label: "AutoSAM (decoder without prompt)", head: "autosam" };
        if (name === "linear") return { kind: "head", id: "head:linear", label: "Linear head", head: "linear" };
        const cnn = /^cnn(\d+)$/.exec(name);
        if (cnn) {
            const depth = Number(cnn[1]);
            if (!(depth >= ARM_LIMITS.minCnnDepth && depth <= ARM_LIMITS.maxCnnDepth)) {
                fail(
                    `CNN depth ${clipNumber(cnn[1] as string)}; use ${ARM_LIMITS.minCnnDepth} to ${ARM_LIMITS.maxCnnDepth}`,
                );
            }
            return { kind: "head", id: `head:cnn${depth}`, label: `CNN head, depth ${depth}`, head: "cnn", depth };
        }
        return fail(`${quoted(name)} is not a known head`);
    }
    const lora = /^lora(\d+)(?:_(.*))?$/.exec(text);
    if (lora) {
        const rank = Number(lora[1]);
        if (!(Number.isInteger(rank) && rank >= 1 && rank <= ARM_LIMITS.maxLoraRank)) {
            fail(`LoRA rank ${clipNumber(lora[1] as string)}; use 1 to ${ARM_LIMITS.maxLoraRank}`);
        }
        if (!lora[2])
            fail(`a LoRA arm names the prompt strategy it trains with (lora${rank}_box, lora${rank}_points10_box)`);
        let prompt: StrategyDefinition;
        try {
            prompt = parseStrategy(lora[2] as string);
        } catch (e) {
            return fail(`its prompt part: ${(e as Error).message}`);
        }
        return {
            kind: "lora",
            id: `lora${rank}_${prompt.id}`,
            label: `LoRA r${rank} in the image encoder + ${prompt.label}`,
            rank,
            prompt,
        };
    }
    return promptArm(parseStrategy(id));
}

function promptArm(strategy: StrategyDefinition): Arm {
    return { kind: "prompt", id: strategy.id, label: strategy.label, strategy };
}

function clipNumber(digits: string): string {
    return digits.length > 12 ? `${digits.slice(0, 12)}...` : digits;
}

/** The prompt plan an arm trains and evaluates with; undefined for the prompt-free heads. */
export function armPromptPlan(arm: Arm): PromptPlan | undefined {
    switch (arm.kind) {
        case "prompt":
            return arm.strategy.plan;
        case "lora":
            return arm.prompt.plan;
        case "head":
            return undefined;
    }
}
