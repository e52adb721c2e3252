"""Documents made by the tests the way people's documents are made: PDFs with text on
known pages (fpdf2), Word files with headings (python-docx), text and Markdown files, and
the bad ones a library must refuse."""

from __future__ import annotations

from pathlib import Path

# Facts no model knows, each on its own page of `facts.pdf` (page = index + 1).
PDF_FACTS = [
    "The Harrowgate lease sets the annual rent at 41,250 euros, payable quarterly.",
    "Clause 14.2 caps the landlord's liability at 180,000 euros for any one event.",
    "The tenant may end the lease early only after the seventh year, with nine months' notice.",
]
WORD_FACTS = {
    "Anticoagulation": "Mrs Oduya left on apixaban 5 mg twice daily; warfarin was stopped on 3 May.",
    "Follow-up": "The discharge letter books a cardiology review at Kestrel Clinic in six weeks.",
}


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF with one page per entry of ``pages`` (text on each)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(path))
    return path


def write_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """A PDF whose pages hold only drawings: what a scan without OCR looks like to a reader."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(path))
    return path


def write_blank_pages_pdf(path: Path, pages: int) -> Path:
    """A valid PDF with ``pages`` empty pages, written quickly (for page-count limits)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    with open(path, "wb") as file:
        writer.write(file)
    return path


def write_docx(path: Path, sections: dict[str, str]) -> Path:
    """A Word document: each key a heading, each value the paragraph under it."""
    import docx

    document = docx.Document()
    for heading, text in sections.items():
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    document.save(str(path))
    return path


def make_library_folder(folder: Path) -> Path:
    """A folder as a user would point at: a PDF, a Word file, a Markdown note, a text file
    in a subfolder, and a spreadsheet that is skipped."""
    folder.mkdir(parents=True, exist_ok=True)
    write_pdf(folder / "facts.pdf", PDF_FACTS)
    write_docx(folder / "discharge.docx", WORD_FACTS)
    (folder / "notes.md").write_text("# Parking\n\nVisitors park on level minus two of the "
                                     "Quayside garage.\n", encoding="utf-8")
    (folder / "old").mkdir(exist_ok=True)
    (folder / "old" / "memo.txt").write_text("The boiler in flat 9 was replaced in 2019.\n",
                                             encoding="utf-8")
    (folder / "budget.xlsx").write_bytes(b"PK\x03\x04 not read")
    return folder
