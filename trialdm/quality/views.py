"""Pages of data quality."""

from flask import Blueprint

bp = Blueprint("quality_pages", __name__, url_prefix="/quality")
