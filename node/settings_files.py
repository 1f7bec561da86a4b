"""Settings read from files: the ``_FILE`` convention of Docker and Kubernetes secrets.

For every setting X, the environment variable ``CLEARINGHOUSE_X_FILE`` may name a file
that holds X's value, in nested sections too (``CLEARINGHOUSE_DATABASE_PASSWORD_FILE``,
``CLEARINGHOUSE_TOKENS_FILE``, ``CLEARINGHOUSE_DELIVERY__LEASE_S_FILE``). In the TOML
file, a key ``x_file`` beside ``x`` (in the same table) does the same, its path taken
relative to the file's folder. A secret then stays out of the process environment (which
``/proc/PID/environ``, ``docker inspect`` and crash reports show), out of the config file
and out of the Kubernetes pod spec: a Secret volume mounts it as a file.

The rules, in order:

1. A name is read as "X from a file" only where X is a setting and ``X_FILE`` is not:
   ``CLEARINGHOUSE_KEY_FILE`` is the setting ``key_file`` (a path the node reads itself),
   never "key, from a file"; ``CLEARINGHOUSE_KEY_FILE_FILE`` would be ``key_file`` read
   from a file. The same holds in every nested section.
2. X and its ``_FILE`` form together are refused, naming both (two variables, or two keys
   of one TOML table). Across the two places the usual precedence holds: a variable,
   ``X`` or ``X_FILE``, wins over the TOML file.
3. The file is read as :func:`node.keyfiles.read_secret_file` reads a secret: refused,
   naming the variable and the path, if every local account may read it (mode ``o+r``;
   group read stays allowed, as Kubernetes mounts Secrets for the pod's ``fsGroup``), if
   it cannot be read, is not UTF-8 text or is empty. Its trailing line breaks are dropped.
4. The text is the value, exactly as the variable's value would be: a list or a section
   (``tokens``, ``trusted_proxies``, ``delivery``) is JSON, and a file that does not
   hold it is refused naming the variable.

Every refusal is a :class:`SettingsFileError` (a pydantic-settings ``SettingsError``,
itself a ``ValueError``), raised while the settings are built.

pydantic-settings' own ``secrets_dir`` (one file per setting, named after it, in one
folder) is not used: it reads a file whatever its mode, cannot report a setting given
twice, and names no variable in its errors. A Kubernetes Secret volume mounts one file
per key; a ``_FILE`` variable names each file that matters, which also documents, in the
pod spec, which setting comes from which key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsError,
    TomlConfigSettingsSource,
)

from clearinghouse.node.keyfiles import read_secret_file
from clearinghouse.protocol.errors import KeyUnusable

__all__ = [
    "EnvironmentSource",
    "FileVariablesSource",
    "SettingsFileError",
    "TomlFileSource",
    "file_variables",
    "settings_sources",
    "toml_values",
]

SUFFIX = "_file"


class SettingsFileError(SettingsError):
    """A ``_FILE`` variable or ``x_file`` key that cannot be used; the message names it."""


def _section(annotation: Any) -> type[BaseModel] | None:
    """The model of a nested section (``X`` or ``X | None``), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, UnionType):
        for member in get_args(annotation):
            found = _section(member)
            if found is not None:
                return found
    return None


def file_target(model: type[BaseModel], path: Sequence[str]) -> FieldInfo | None:
    """The setting that the name ``path`` (its sections, then ``x_file``, lowercase)
    reads from a file, by rule (1) of the module docstring; None if it is no such name."""
    for part in path[:-1]:
        field = model.model_fields.get(part)
        section = _section(field.annotation) if field is not None else None
        if section is None:
            return None
        model = section
    leaf = path[-1] if path else ""
    if not leaf.endswith(SUFFIX) or leaf in model.model_fields:
        return None
    return model.model_fields.get(leaf.removesuffix(SUFFIX))


def file_variables(
    settings_cls: type[BaseModel], environ: Mapping[str, str], prefix: str, delimiter: str
) -> dict[str, str]:
    """Each variable of ``environ`` that names the file of a setting -> the file's path.

    Names are matched without regard to case (as the settings' own variables are); an
    empty variable counts as unset."""
    found = {}
    for name, value in environ.items():
        lower = name.lower()
        if not value or not lower.startswith(prefix.lower()):
            continue
        path = lower[len(prefix) :].split(delimiter) if delimiter else [lower[len(prefix) :]]
        if file_target(settings_cls, path) is not None:
            found[name] = value
    return found


class EnvironmentSource(EnvSettingsSource):
    """The ``CLEARINGHOUSE_*`` variables, less the ``_FILE`` ones that
    :class:`FileVariablesSource` reads (a nested one would otherwise reach its section
    as an unknown key)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        claimed = {
            name.lower()
            for name in file_variables(
                self.settings_cls, os.environ, self.env_prefix, self.env_nested_delimiter or ""
            )
        }
        return {k: v for k, v in super()._load_env_vars().items() if k.lower() not in claimed}


class FileVariablesSource(EnvSettingsSource):
    """The settings that ``CLEARINGHOUSE_X_FILE`` variables give: each file's text,
    parsed as variable ``CLEARINGHOUSE_X`` would be."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environment = super()._load_env_vars()
        delimiter = self.env_nested_delimiter or ""
        self._variables: dict[str, list[str]] = {}  # top-level setting -> its variables
        values: dict[str, str | None] = {}
        for name, file in file_variables(
            self.settings_cls, os.environ, self.env_prefix, delimiter
        ).items():
            setting = name[: -len(SUFFIX)]
            key = setting if self.case_sensitive else setting.lower()
            if environment.get(key):
                raise SettingsFileError(f"{setting} and {name} are both set; set only one")
            try:
                values[key] = read_secret_file(Path(file), name)
            except KeyUnusable as exc:
                raise SettingsFileError(exc.message) from exc
            top = key[len(self.env_prefix) :].split(delimiter)[0] if delimiter else key
            self._variables.setdefault(top.lower(), []).append(f"{name} ({file})")
        return values

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        try:
            return super().prepare_field_value(field_name, field, value, value_is_complex)
        except ValueError as exc:
            names = ", ".join(self._variables.get(field_name.lower(), [field_name]))
            raise SettingsFileError(
                f"{names}: the file does not hold {field_name} as JSON: {exc}"
            ) from exc

    def __call__(self) -> dict[str, Any]:
        try:
            return super().__call__()
        except SettingsError as exc:  # pydantic-settings wraps ours: give ours, it names the file
            if isinstance(exc.__cause__, SettingsFileError):
                raise exc.__cause__ from None
            raise


class TomlFileSource(TomlConfigSettingsSource):
    """The TOML file, each ``x_file`` key replaced by ``x`` and the text of the file it
    names (relative to the TOML file's folder)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        self._model = settings_cls  # _read_file runs inside the base class's __init__
        super().__init__(settings_cls)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        return toml_values(super()._read_file(file_path), self._model, Path(str(file_path)))


def _structured(annotation: Any) -> bool:
    """Whether a setting's value is given as JSON: a list, a mapping or a section."""
    if get_origin(annotation) in (Union, UnionType):
        return any(_structured(a) for a in get_args(annotation) if a is not type(None))
    origin = get_origin(annotation) or annotation
    return _section(annotation) is not None or origin in (list, tuple, set, frozenset, dict)


def toml_values(
    table: dict[str, Any], model: type[BaseModel], toml: Path, where: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``table``, read from the TOML file ``toml`` (at its section ``where``), with each
    ``x_file`` key of ``model`` replaced by ``x`` and its file's value.

    Raises :class:`SettingsFileError` by the rules of the module docstring."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        field = model.model_fields.get(key)
        section = _section(field.annotation) if field is not None else None
        if section is not None and isinstance(value, dict):
            out[key] = toml_values(value, section, toml, (*where, key))
            continue
        target = file_target(model, [key])
        if target is None:
            out[key] = value
            continue
        setting = key.removesuffix(SUFFIX)
        what = f"{toml}: {'.'.join((*where, key))}"
        if setting in table:
            raise SettingsFileError(
                f"{toml}: {'.'.join((*where, setting))} and {'.'.join((*where, key))} are "
                "both set; set only one"
            )
        if not isinstance(value, str):
            raise SettingsFileError(f"{what} must be a file name (a string)")
        try:
            text = read_secret_file(toml.parent / value, what)
        except KeyUnusable as exc:
            raise SettingsFileError(exc.message) from exc
        if not _structured(target.annotation):
            out[setting] = text
            continue
        try:
            out[setting] = json.loads(text)
        except ValueError as exc:
            raise SettingsFileError(f"{what}: the file does not hold JSON: {exc}") from exc
    return out


def settings_sources(
    settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The sources of :class:`node.settings.Settings`, highest precedence first: the
    arguments, the environment with its ``_FILE`` variables, then the TOML file (if
    ``model_config`` names one) with its ``x_file`` keys."""
    sources: list[PydanticBaseSettingsSource] = [
        init_settings,
        EnvironmentSource(settings_cls),
        FileVariablesSource(settings_cls),
    ]
    if settings_cls.model_config.get("toml_file"):
        sources.append(TomlFileSource(settings_cls))
    return tuple(sources)
