"""PocketSphinx loads its default US-English acoustic model, dictionary and language
model from ``pocketsphinx/model`` next to its module."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("pocketsphinx", subdir="model")
