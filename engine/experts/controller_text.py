"""Text tasks answered by the controller LLM itself, as HuggingGPT's reference does
when no better local model is installed: summarization, translation, conversation,
text generation and text-to-text rewriting."""

from __future__ import annotations

from .base import Expert, ExpertContext, ExpertResult

INSTRUCTIONS = {
    "summarization": "Summarize the following text in one or two sentences.",
    "translation": "Translate the following text as the user asked. Reply with the translation only.",
    "conversational": "Reply helpfully and briefly to the following message.",
    "text-generation": "Write what the following asks for. Be brief.",
    "text2text-generation": "Rewrite or answer the following text as it asks. Be brief.",
}


class ControllerText(Expert):
    model_id = "controller"
    tasks = tuple(INSTRUCTIONS)
    runtime = "llama.cpp"
    licence = "Apache-2.0"
    description = ("The controller LLM itself (the one chosen in Settings), answering text tasks "
                   "when no dedicated model is installed.")
    source = "the controller GGUF"

    def run(self, task: str, args, ctx: ExpertContext) -> ExpertResult:
        if ctx.controller is None:
            raise RuntimeError("no controller LLM is loaded")
        messages = [{"role": "system", "content": INSTRUCTIONS[task]},
                    {"role": "user", "content": args["text"]}]
        text = ctx.controller.complete(messages, max_tokens=200).strip()
        return ExpertResult(text=text, data={"generated_by": getattr(ctx.controller, "name", "controller")})


EXPERTS = [ControllerText]
