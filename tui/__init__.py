"""frontdesk's terminal front end (Textual): screens, widgets, key bindings, ``.tcss`` styles.

Run it with ``FrontdeskApp(EngineConfig(...)).run()`` (``tui.app``). It imports only ``offline``
(the engine it reads and writes through) and ``protocol`` (models and the rule book); engine
events become Textual messages (``tui.messages``) and only handlers touch widgets.

- ``tui.app``: the app, alerts (banner, bell, toast, counter), sign-in prompt, palette, theme.
- ``tui.screens``: queue (main), detail, request form, note, assign, conflicts, performance,
  help, sign-in.
- ``tui.widgets``: the virtual request table (Line API), status bar, title bar, filter prompt.
- ``tui.queue_model``: filter, quick views and sort as an id list (no widgets).
- ``tui.text``: user text shown literally (markup and control characters neutralized).
"""
