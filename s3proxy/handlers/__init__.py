"""One async function per S3 operation, found through :data:`HANDLERS`."""

from __future__ import annotations

from s3proxy.handlers import object as object_handlers
from s3proxy.handlers.context import Handler
from s3proxy.operations import Operation

HANDLERS: dict[Operation, Handler] = {
    Operation.PutObject: object_handlers.put_object,
    Operation.GetObject: object_handlers.get_object,
    Operation.HeadObject: object_handlers.head_object,
    Operation.DeleteObject: object_handlers.delete_object,
}
