"""Make templates/reference.docx, the Word styles of report/manuscript.docx (journal-plain look).

Run from the repository root, with the project's environment (pypandoc-binary installed):

    python templates/make_reference_docx.py            # writes templates/reference.docx
    python templates/make_reference_docx.py --check    # exit 1 if the file differs from a rebuild

How the file is made:

1. pandoc's own default (``pandoc -o ref.docx --print-default-data-file reference.docx``), with the
   pandoc bundled in pypandoc-binary, so every style pandoc writes exists.
2. Plain string edits (no XML library): in ``word/styles.xml`` the document defaults and the
   styles pandoc uses for a manuscript are replaced whole by the blocks in ``STYLES`` below
   (each replacement must match exactly once, so a changed pandoc default stops the script
   instead of being edited silently); in ``word/theme/theme1.xml`` the theme fonts (Aptos) become
   Times New Roman; ``word/document.xml`` gets an A4 page with 2.5 cm margins (the PDF is A4 too).
3. The zip is written with the entries in pandoc's order, a fixed date (1980-01-01), fixed
   permissions and no compression, so the bytes depend on nothing but pandoc's default file:
   the same pandoc version gives the same reference.docx on every machine. (Made with pandoc
   3.9; a later pandoc may change its default and hence these bytes.)

The look: body text 11 pt Times New Roman (Liberation Serif stands in where Times is missing,
as in LibreOffice on Linux), 1.15 line spacing, 6 pt before and after each paragraph; title
16 pt bold, subtitle 12 pt; headings 13 / 11.5 / 10.5 pt bold (the third also italic), black;
captions 10 pt; table text 9 pt, with a thin rule above and below each table and under its
header row; no colours.

Check: ``python -m pytest tests/test_docx.py`` (rebuilds this file in memory and compares bytes).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "reference.docx"
FONT = "Times New Roman"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)

RFONTS = (f'<w:rFonts w:ascii="{FONT}" w:eastAsia="{FONT}" w:hAnsi="{FONT}" '
          f'w:cs="{FONT}" />')


def _para(style_id: str, name: str, body: str, *, based_on: str | None = "Normal",
          custom: bool = False, extra: str = "") -> str:
    custom_attr = ' w:customStyle="1"' if custom else ""
    based = f'<w:basedOn w:val="{based_on}" />' if based_on else ""
    return (f'<w:style w:type="paragraph"{custom_attr} w:styleId="{style_id}">'
            f'<w:name w:val="{name}" />{based}{extra}<w:qFormat />{body}</w:style>')


def _char(style_id: str, name: str, link: str, rpr: str) -> str:
    return (f'<w:style w:type="character" w:customStyle="1" w:styleId="{style_id}">'
            f'<w:name w:val="{name}" /><w:basedOn w:val="DefaultParagraphFont" />'
            f'<w:link w:val="{link}" /><w:rPr>{rpr}</w:rPr></w:style>')


def _size(half_points: int) -> str:
    return f'<w:sz w:val="{half_points}" /><w:szCs w:val="{half_points}" />'


def _heading(level: int, half_points: int, before: int, after: int, italic: bool = False) -> str:
    rpr = "<w:b /><w:bCs />" + ("<w:i /><w:iCs />" if italic else "") + _size(half_points)
    return _para(
        f"Heading{level}", f"heading {level}",
        f'<w:pPr><w:keepNext /><w:keepLines /><w:spacing w:before="{before}" w:after="{after}" />'
        f'<w:outlineLvl w:val="{level - 1}" /></w:pPr><w:rPr>{rpr}</w:rPr>',
        extra=f'<w:next w:val="BodyText" /><w:link w:val="Heading{level}Char" />'
              '<w:uiPriority w:val="9" />')


TITLE_RPR = "<w:b /><w:bCs />" + _size(32)            # 16 pt bold
SUBTITLE_RPR = '<w:b w:val="0" /><w:bCs w:val="0" />' + _size(24)   # 12 pt
H_RPR = {1: "<w:b /><w:bCs />" + _size(26),           # 13 pt
         2: "<w:b /><w:bCs />" + _size(23),           # 11.5 pt
         3: "<w:b /><w:bCs /><w:i /><w:iCs />" + _size(21)}   # 10.5 pt

# The first element names what is replaced: "docDefaults" or a style id (matched once).
STYLES: list[tuple[str, str]] = [
    ("docDefaults",
     f'<w:docDefaults><w:rPrDefault><w:rPr>{RFONTS}{_size(22)}'
     '<w:lang w:val="en-GB" w:eastAsia="zh-CN" w:bidi="ar-SA" /></w:rPr></w:rPrDefault>'
     '<w:pPrDefault><w:pPr><w:spacing w:after="120" w:line="276" w:lineRule="auto" />'
     '</w:pPr></w:pPrDefault></w:docDefaults>'),
    ("BodyText", _para("BodyText", "Body Text",
                       '<w:pPr><w:spacing w:before="120" w:after="120" /></w:pPr>',
                       extra='<w:link w:val="BodyTextChar" />')),
    # Table cells are "Compact" paragraphs: no size here, so the table style's 9 pt applies.
    ("Compact", _para("Compact", "Compact",
                      '<w:pPr><w:spacing w:before="20" w:after="20" w:line="240" '
                      'w:lineRule="auto" /></w:pPr>', based_on="BodyText", custom=True)),
    ("Title", _para("Title", "Title",
                    '<w:pPr><w:keepNext /><w:keepLines /><w:spacing w:before="0" w:after="160" '
                    'w:line="240" w:lineRule="auto" /><w:jc w:val="center" /></w:pPr>'
                    f'<w:rPr>{TITLE_RPR}</w:rPr>',
                    extra='<w:next w:val="BodyText" /><w:link w:val="TitleChar" />'
                          '<w:uiPriority w:val="10" />')),
    ("TitleChar", _char("TitleChar", "Title Char", "Title", TITLE_RPR)),
    ("Subtitle", _para("Subtitle", "Subtitle",
                       '<w:pPr><w:keepNext /><w:keepLines /><w:spacing w:before="0" '
                       'w:after="200" /></w:pPr>'
                       f'<w:rPr>{SUBTITLE_RPR}</w:rPr>', based_on="Title",
                       extra='<w:next w:val="BodyText" /><w:link w:val="SubtitleChar" />'
                             '<w:uiPriority w:val="11" />')),
    ("SubtitleChar", _char("SubtitleChar", "Subtitle Char", "Subtitle", SUBTITLE_RPR)),
    ("Author", _para("Author", "Author",
                     '<w:pPr><w:keepNext /><w:keepLines /><w:spacing w:before="0" '
                     'w:after="40" /></w:pPr>'
                     '<w:rPr><w:b w:val="0" /><w:bCs w:val="0" />' + _size(22) + '</w:rPr>',
                     based_on="Title", custom=True, extra='<w:next w:val="BodyText" />')),
    ("Date", _para("Date", "Date",
                   '<w:pPr><w:keepNext /><w:keepLines /><w:spacing w:before="0" '
                   'w:after="40" /></w:pPr>'
                   '<w:rPr><w:b w:val="0" /><w:bCs w:val="0" />' + _size(22) + '</w:rPr>',
                   based_on="Title", extra='<w:next w:val="BodyText" />')),
    ("AbstractTitle", _para("AbstractTitle", "Abstract Title",
                            '<w:pPr><w:keepNext /><w:keepLines /><w:spacing w:before="360" '
                            'w:after="60" /><w:jc w:val="left" /></w:pPr>'
                            '<w:rPr><w:b /><w:bCs />' + _size(22) + '</w:rPr>',
                            custom=True, extra='<w:next w:val="Abstract" />')),
    ("Abstract", _para("Abstract", "Abstract",
                       '<w:pPr><w:spacing w:before="0" w:after="240" />'
                       '</w:pPr><w:rPr>' + _size(21) + '</w:rPr>',
                       custom=True, extra='<w:next w:val="BodyText" />')),
    ("Heading1", _heading(1, 26, 360, 60)),
    ("Heading2", _heading(2, 23, 240, 40)),
    ("Heading3", _heading(3, 21, 200, 40, italic=True)),
    ("Heading1Char", _char("Heading1Char", "Heading 1 Char", "Heading1", H_RPR[1])),
    ("Heading2Char", _char("Heading2Char", "Heading 2 Char", "Heading2", H_RPR[2])),
    ("Heading3Char", _char("Heading3Char", "Heading 3 Char", "Heading3", H_RPR[3])),
    # Thin (0.75 pt) rules above and below the table, 0.5 pt under the header row; 9 pt text.
    ("Table",
     '<w:style w:type="table" w:default="1" w:styleId="Table"><w:name w:val="Table" />'
     '<w:basedOn w:val="TableNormal" /><w:uiPriority w:val="59" /><w:qFormat />'
     '<w:pPr><w:spacing w:before="20" w:after="20" w:line="240" w:lineRule="auto" /></w:pPr>'
     '<w:rPr>' + _size(18) + '</w:rPr>'
     '<w:tblPr><w:tblInd w:w="0" w:type="dxa" />'
     '<w:tblBorders><w:top w:val="single" w:sz="6" w:space="0" w:color="000000" />'
     '<w:bottom w:val="single" w:sz="6" w:space="0" w:color="000000" /></w:tblBorders>'
     '<w:tblCellMar><w:top w:w="0" w:type="dxa" /><w:left w:w="85" w:type="dxa" />'
     '<w:bottom w:w="0" w:type="dxa" /><w:right w:w="85" w:type="dxa" /></w:tblCellMar>'
     '</w:tblPr>'
     '<w:tblStylePr w:type="firstRow"><w:rPr><w:b /><w:bCs /></w:rPr><w:tcPr><w:tcBorders>'
     '<w:bottom w:val="single" w:sz="4" w:space="0" w:color="000000" /></w:tcBorders>'
     '<w:vAlign w:val="bottom" /></w:tcPr></w:tblStylePr></w:style>'),
    ("Caption", _para("Caption", "Caption",
                      '<w:pPr><w:spacing w:before="120" w:after="120" w:line="240" '
                      'w:lineRule="auto" /></w:pPr><w:rPr>' + _size(20) + '</w:rPr>',
                      extra='<w:link w:val="BodyTextChar" />')),
    ("TableCaption", _para("TableCaption", "Table Caption",
                           '<w:pPr><w:keepNext /><w:spacing w:before="240" w:after="80" />'
                           '</w:pPr>', based_on="Caption", custom=True)),
    ("VerbatimChar",
     '<w:style w:type="character" w:customStyle="1" w:styleId="VerbatimChar">'
     '<w:name w:val="Verbatim Char" /><w:basedOn w:val="BodyTextChar" /><w:rPr>'
     '<w:rFonts w:ascii="Consolas" w:hAnsi="Consolas" w:cs="Consolas" /></w:rPr></w:style>'),
]

# A4 with 2.5 cm margins (the PDF route is A4 as well); pandoc copies this sectPr.
SECT_PR = ('<w:sectPr><w:footnotePr><w:numRestart w:val="eachSect" /></w:footnotePr>'
           '<w:pgSz w:w="11906" w:h="16838" />'
           '<w:pgMar w:top="1418" w:right="1418" w:bottom="1418" w:left="1418" '
           'w:header="709" w:footer="709" w:gutter="0" /></w:sectPr>')


def _replace_once(text: str, pattern: str, new: str, what: str) -> str:
    result, count = re.subn(pattern, lambda _: new, text, flags=re.S)
    if count != 1:
        raise SystemExit(f"{what}: expected exactly one match, found {count} "
                         "(has pandoc's default reference.docx changed?)")
    return result


def edit_styles(xml: str) -> str:
    for key, block in STYLES:
        if key == "docDefaults":
            pattern = r"<w:docDefaults>.*?</w:docDefaults>"
        else:
            pattern = rf'<w:style\b[^>]*\bw:styleId="{key}"[^>]*>.*?</w:style>'
        xml = _replace_once(xml, pattern, block, f"styles.xml {key}")
    return xml


def edit_theme(xml: str) -> str:
    for face in ("Aptos Display", "Aptos"):
        xml = _replace_once(xml, rf'<a:latin typeface="{face}"[^>]*/>',
                            f'<a:latin typeface="{FONT}" panose="02020603050405020304"/>',
                            f"theme1.xml {face}")
    return xml


def edit_document(xml: str) -> str:
    return _replace_once(xml, r"<w:sectPr>.*?</w:sectPr>", SECT_PR, "document.xml sectPr")


EDITS = {"word/styles.xml": edit_styles, "word/theme/theme1.xml": edit_theme,
         "word/document.xml": edit_document}


def pandoc_default(pandoc: str | None = None) -> bytes:
    """pandoc's own reference.docx."""
    if pandoc is None:
        import pypandoc
        pandoc = pypandoc.get_pandoc_path()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "default.docx"
        subprocess.run([pandoc, "-o", str(out), "--print-default-data-file", "reference.docx"],
                       check=True, timeout=60)
        return out.read_bytes()


def build(default: bytes) -> bytes:
    """The edited reference.docx as bytes: fixed order, date and permissions, stored."""
    import io

    src = zipfile.ZipFile(io.BytesIO(default))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name in EDITS:
                data = EDITS[name](data.decode("utf-8")).encode("utf-8")
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3          # Unix, whatever the platform
            info.external_attr = 0o644 << 16
            dst.writestr(info, data)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--pandoc", help="pandoc executable (default: pypandoc-binary's)")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if OUTPUT differs from a rebuild")
    args = parser.parse_args(argv)
    data = build(pandoc_default(args.pandoc))
    if args.check:
        same = args.output.is_file() and args.output.read_bytes() == data
        print(f"{args.output}: {'up to date' if same else 'differs from a rebuild'}")
        return 0 if same else 1
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
