"""The npm packages GraphiQL's page loads, pinned by version and by npm's tarball integrity.

The same values as `clients/graphiql/package-lock.json` (a test keeps the two equal and
covering every package Strawberry's page loads). Each file taken from a tarball is checked
once more against the page's own Subresource Integrity hash.
"""

from __future__ import annotations

TARBALL_INTEGRITY: dict[str, str] = {
    "graphiql@3.8.3": "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",  # noqa: E501
    "react@18.2.0": "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",  # noqa: E501
    "react-dom@18.2.0": "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==",  # noqa: E501
    "js-cookie@3.0.5": "sha512-cEiJEAEoIbWfCZYKWhVwFuvPX1gETRYPw6LlaTKoxD3s2AkXzkCjnp6h0V77ozyqj0jakteJ4YqDJT830+lVGw==",  # noqa: E501
    "@graphiql/plugin-explorer@1.0.2": "sha512-9j+kg2UjtLZD5EBmGjeWHkoVVxtbShYg2DzbUVebibnZYZM/iMBEF4vaccXJIAm5KaomIPLx0aoNs4LbODyc3Q==",  # noqa: E501
}
