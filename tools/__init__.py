"""Tools for developing the kit, never run by its users and not in the wheel: the contract's
type generator, the pgTAP runner and the chatbot transcript of the docs. They import the
package; nothing in the package imports them. Run them from the repository root
(``python -m tools.<name>``; the make targets do)."""
