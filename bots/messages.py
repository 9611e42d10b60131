"""Every line SupportLoop says to users on any platform, in one place, so wording stays consistent."""

PLACEHOLDER = "Looking through the help pages…"
NOT_INDEXED = (
    "I can't answer yet: no help pages are indexed. An admin can run `/supportloop reindex` "
    "(or `supportloop index URL` on the server)."
)
INTERNAL_ERROR = (
    "Sorry, something went wrong on my side while answering. The error is logged; please try again."
)
RATE_LIMITED = "You're asking faster than I can keep up. Please wait {seconds} s and ask again."
EMPTY_QUESTION = "Ask me a question about the help pages, e.g. `How do I reset my password?`"
VOTE_THANKS = {1: "Thanks for the 👍, it's recorded.", -1: "Thanks for the 👎, it's recorded."}
VOTE_GONE = "That answer is no longer on record, so the vote could not be stored."
REASON_PROMPT = "What was wrong with the answer? (optional)"
REASON_TITLE = "Tell us more"
REASON_THANKS = "Thanks, your note will help improve the answers."
REASON_NO_VOTE = "Your 👎 was withdrawn before the note arrived, so the note was not stored."
ADMIN_ONLY = "Only SupportLoop admins can run `/supportloop {command}`."
UNKNOWN_COMMAND = "I don't know `/supportloop {command}`.\n{help}"
BAD_VERSION = "Give the version to roll back to as a number, e.g. `/supportloop rollback 3`."
JOB_QUEUED = "Queued {kind} as job #{run_id}. I'll post progress and the result here."
JOB_WAITING = (
    "Queued {kind} as job #{run_id}. No worker here runs {kind} jobs yet, so it waits in the queue "
    "until one does (see `/supportloop status`)."
)
NO_ADMIN_BACKEND = "Admin commands are not available in this process."
HELP = """`/supportloop ask <question>`: answer a question from the help pages
`/supportloop status`: model version and index size (admins: also jobs and feedback)
`/supportloop gaps`: the questions the help pages don't answer, grouped (admins)
`/supportloop reindex`: crawl the help pages again (admins)
`/supportloop retrain`: train on the feedback (admins)
`/supportloop audit`: audit the reward model (admins)
`/supportloop rollback <version>`: serve an earlier model version (admins)"""
SOURCES = "Sources"
REASON_SUBMIT = "Send"
REASON_SKIP = "Skip"
COMMAND_DESCRIPTION = "Ask SupportLoop about the help pages, or run an admin command"
COMMAND_USAGE = "ask <question> | status | help | gaps | reindex | retrain | audit | rollback <version>"
ASK_PERSON = "Ask a person"
ESCALATION = "**Question:** {question}\n**Answer given:**\n{answer}"
PERSON_NEEDED = "a person is needed here."
PERSON_NEEDED_IN = "A person is needed in a thread in {where}."
ESCALATED_ALREADY = "A person has already been asked in this thread; they'll reply here."
ESCALATED_TO_CHANNEL = "I've asked a person; they'll reply in this thread."
ESCALATION_FAILED = "I couldn't reach a person just now; please press the button again in a moment."
ESCALATION_OFF = "Asking a person is not set up here; an admin can set it on the server."
NO_GAPS = "No knowledge gaps: no question was declined or voted 👎 yet."
GAPS_TITLE = "**Knowledge gaps** (declined and 👎 questions by meaning, largest first):"
