"""The channel sandbox: a local stand-in for WeChat Pay, Alipay, Lakala, UnionPay, Allinpay and SAP.

It plays each channel's side in the channel's real wire format, signed with the dev keys under
`var/keys/<channel>/` (docs/channel-formats.md §0), so the gateway's channel clients and callback
endpoints run unchanged against it:

* channel APIs the gateway calls (WeChat Pay v3 prepay/query/close/refund, Alipay `gateway.do`,
  Lakala 聚合扫码 and 收银台), with request signatures verified and responses signed;
* a control API (`/sandbox/...`) that tells a channel to pay, fail, pay twice, notify late, notify
  out of order, succeed synchronously then fail, or refund, and shows what it sent;
* notification delivery with each channel's documented retry schedule (scaled down by a
  setting) until the documented success answer arrives, every attempt recorded;
* a SAP document endpoint for the ledger's HTTP connector, idempotent by reference.

**All state is in memory** and lost on restart: it is a sandbox for local runs and tests, never
a deployment target. See docs/channel-sandbox.md for the full API.
"""
