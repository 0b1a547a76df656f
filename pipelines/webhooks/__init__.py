"""Alert webhooks: every alert a target's filters take reaches it once, in its format.

One module per message format (:mod:`~pipelines.webhooks.generic`,
:mod:`~pipelines.webhooks.slack`, :mod:`~pipelines.webhooks.dingtalk`,
:mod:`~pipelines.webhooks.wecom`, :mod:`~pipelines.webhooks.feishu`,
:mod:`~pipelines.webhooks.template`), the filters (:mod:`~pipelines.webhooks.filters`), the
delivery (:mod:`~pipelines.webhooks.delivery`) and its ledger, and what the console calls
(:mod:`~pipelines.webhooks.targets`). The package itself imports nothing, so that the command
line starts without the HTTP client until a webhook is configured.
"""
