"""WhiteNoise, callable from an asynchronous middleware chain.

WhiteNoise 6 (the current release) has a synchronous middleware only; in the ASGI web process
Django would then run every middleware and view below it in a thread, through `async_to_sync`,
and a transcription view's wait would block that thread. This subclass keeps WhiteNoise's
lookup and responses as they are and adds the asynchronous call: a static file is looked up
(a dictionary read, or the finders in development) and its response built in a thread, any
other request is handed on without one. The file's body is streamed part by part by
ops.streams.AsgiStreamingMiddleware.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, *args, **kwargs) -> None:
        super().__init__(get_response, *args, **kwargs)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if self.autorefresh:  # development: the finders read the disk
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
