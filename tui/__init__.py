"""frontdesk's terminal front end (Textual): screens, widgets, key bindings, ``.tcss`` styles.

Run it with ``FrontdeskApp(EngineConfig(...)).run()`` (``tui.app``). It imports only ``offline``
(the engine it reads and writes through) and ``protocol`` (models and the rule book); engine
events become Textual messages (``tui.messages``) and only handlers touch widgets.

- ``tui.app``: the app, sign-in prompt, palette, theme.
- ``tui.alert_desk``: alerts from the replica (counter, bell, one notice at a time,
  acknowledging through the engine).
- ``tui.screens``: queue (main), detail, alerts, request form, note, assign, conflicts,
  performance, help, sign-in.
- ``tui.widgets``: the virtual request table (Line API), status bar, title bar, filter prompt,
  alert banner and how an alert reads (``alert_text``).
- ``tui.queue_model``: filter, quick views and sort as an id list (no widgets).
- ``tui.text``: user text shown literally (markup and control characters neutralized).
"""
