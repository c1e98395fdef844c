# Render the R Markdown peer report (bench/run.py times this; it is not part of the pipeline).
#   Rscript bench/r/render.R html|all PATIENTS.csv VIRAL_LOADS.csv OUTDIR
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 4) stop("usage: render.R html|all PATIENTS VIRAL_LOADS OUTDIR")
here <- dirname(normalizePath(sub("^--file=", "",
                                  grep("^--file=", commandArgs(FALSE), value = TRUE))))
out <- normalizePath(args[4], mustWork = FALSE)
dir.create(out, showWarnings = FALSE, recursive = TRUE)
# knit next to the output, so the checkout's bench/r/ gets no intermediate files
invisible(file.copy(file.path(here, "report.Rmd"), out, overwrite = TRUE))
# before render() changes into the output folder
inputs <- list(patients = normalizePath(args[2], mustWork = TRUE),
               viral_loads = normalizePath(args[3], mustWork = TRUE))
formats <- if (args[1] == "all") "all" else "html_document"
rmarkdown::render(file.path(out, "report.Rmd"), output_format = formats, quiet = TRUE,
                  params = inputs,
                  envir = new.env())
