"""The OpenAPI document tells the truth about errors, authentication and uploads.

- Every error response is ``application/problem+json`` (RFC 9457) with field messages
  under ``errors``, as :mod:`trialdm.core.http` sends them.
- The bearer token is the security scheme of every operation.
- A multipart upload is one request body: its form fields and files are read and
  documented together (webargs' ``files`` location alone would leave the form fields
  as ``in: formData`` parameters, which OpenAPI 3 does not have).
"""

from __future__ import annotations

import http
from typing import Any

from flask_smorest import Api
from flask_smorest.utils import prepare_response
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from trialdm.core.errors import PROBLEM_MIMETYPE
from trialdm.core.schemas import Problem

BEARER = "bearerAuth"


class ProblemApi(Api):
    ERROR_SCHEMA = Problem

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def spec_options() -> dict[str, Any]:
    return {
        "components": {
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token: `trialdm users token EMAIL` or POST /tokens",
                }
            }
        },
        "security": [{BEARER: []}],
    }


def install_multipart_loader(api: Api) -> None:
    """``location="files"`` reads the form fields of a multipart body too."""
    from flask_smorest import Blueprint

    parser = Blueprint.ARGUMENTS_PARSER

    @parser.location_loader("files")
    def load_files(request, schema):
        return MultiDictProxy(CombinedMultiDict([request.files, request.form]), schema)
