"""Content-Disposition through the whole download path (§4): for any filename a file may
have, the URL minted for it serves it, and the header parses back to exactly that name and
carries nothing else. (tests/delivery/test_disposition.py proves the header function itself
for any string; tests/e2e/test_nginx.py sends awkward names through gunicorn and nginx.)"""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from werkzeug.http import parse_options_header

from files_service import get_services
from files_service.errors import ValidationError
from files_service.files import store_file
from files_service.storage import MemoryStorage
from files_service.validation import validate_filename
from tests.conftest import make_world, path_of

# Any character a stored name may hold, weighted towards the troublesome ones.
NAMES = st.text(
    alphabet=st.one_of(
        st.sampled_from(list('";\\,=*%\' \t?#&+é€😀\u202e\u00a0')),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="/"),
    ),
    min_size=1,
    max_size=255,
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, attachment=st.booleans())
@example(name='a; filename="evil.exe"; b\\cé.txt', attachment=True)
@example(name="é" * 127 + "x", attachment=False)  # 255 bytes
def test_any_filename_round_trips_through_the_header(make_app, name, attachment):
    try:
        validate_filename(name)
    except ValidationError:
        assume(False)
    app = make_app(storage=MemoryStorage())
    services = get_services(app)
    world = make_world(services)
    file = store_file(services, world.org.id, iter([b"x"]), filename=name,
                      content_type="text/plain")
    disposition = "attachment" if attachment else "inline"
    response = app.test_client().get(
        path_of(services.minter.mint(file, world.key, disposition=disposition).url)
    )
    assert response.status_code == 200
    (header,) = response.headers.getlist("Content-Disposition")
    assert header.isascii() and header.isprintable()
    # Exactly three parameters as a header parser sees them, the exact name last and whole.
    kind, params = parse_options_header(header)
    assert kind == disposition
    assert set(params) == {"filename"}  # Werkzeug folds filename* into filename, preferred
    assert params["filename"] == name
    head, _, exact = header.partition("; filename*=UTF-8''")
    assert head.startswith(f'{disposition}; filename="') and head.endswith('"')
    assert '"' not in head[len(disposition) + 12 : -1] and "\\" not in head
    assert unquote(exact, errors="strict") == name
    assert all(c.isalnum() or c in "%!#$&+^`|-._~" for c in exact)
    services.close()
